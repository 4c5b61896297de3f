"""gate/policy/layers.py: the merge of policy defaults <- base file <- stack file (issue 13 item 2)."""

from __future__ import annotations

from typing import Any

import pytest

from gate.errors import PolicyError
from gate.policy.layers import POLICY_DEFAULT, Layer, merge_layers, parse_path
from gate.policy.loader import load_policy, namespace_values
from gate.policy.model import GatePolicy

BASE = "stacks/base.yaml"
STACK = "stacks/Pulumi.prod.yaml"
NS = "delivery-gate"


def merged(*layers: dict[str, Any]) -> dict[str, Any]:
    sources = [BASE, STACK] if len(layers) == 2 else [STACK]
    return merge_layers([Layer(s, v) for s, v in zip(sources, layers, strict=True)]).values


def policy(values: dict[str, Any], stack: str = "prod") -> GatePolicy:
    return load_policy(namespace_values(values), stack=stack, github_owner="acme")


def names(entries: list[dict[str, Any]], key: str = "name") -> list[str]:
    return [entry[key] for entry in entries]


def problems_of(error: pytest.ExceptionInfo[PolicyError]) -> list[tuple[str, str | None, str]]:
    return [(p.path, p.source, p.allowed) for p in error.value.problems]


DEFAULT_LABELS = [label.name for label in GatePolicy.model_fields["labels"].default_factory()]  # type: ignore[call-arg,misc]


# -- named lists merge by name --------------------------------------------------------------------


def test_a_named_entry_overrides_only_the_fields_it_gives() -> None:
    values = merged({f"{NS}:environments": [{"name": "production", "waitTimerMinutes": 30}]})
    chain = values[f"{NS}:environments"]
    assert names(chain) == ["dev", "staging", "production"]  # the defaults are kept, in order
    production = chain[2]
    assert production["waitTimerMinutes"] == 30
    # Not restated, still the policy's: reviewers (DP §Environment Progression) and the chain link.
    assert production["reviewers"]["teams"] == ["release-managers"]
    assert production["promotesFrom"] == "staging"
    built = policy({**values, f"{NS}:environment": "production", f"{NS}:repositories": [{"name": "aos"}]})
    assert built.environment_spec.wait_timer_minutes == 30
    assert built.environment_spec.reviewers.teams == ("release-managers",)


def test_a_new_name_is_appended_and_the_defaults_stay() -> None:
    label = {"name": "needs-docs", "color": "ededed"}
    values = merged({f"{NS}:labels": [label]})
    assert names(values[f"{NS}:labels"]) == [*DEFAULT_LABELS, "needs-docs"]


def test_the_stack_file_merges_over_the_base_by_name() -> None:
    base = {
        f"{NS}:repositories": [{"name": "shop", "languages": ["python"]}, {"name": "web"}],
        f"{NS}:labels": [{"name": "needs-docs", "color": "ededed"}],
    }
    stack = {
        f"{NS}:repositories": [{"name": "shop", "mergeQueue": True}, {"name": "tools"}],
        f"{NS}:labels": [{"name": "needs-docs", "description": "Docs to write"}],
    }
    values = merged(base, stack)
    repositories = values[f"{NS}:repositories"]
    assert repositories == [
        {"name": "shop", "languages": ["python"], "mergeQueue": True},
        {"name": "web"},
        {"name": "tools"},
    ]
    assert values[f"{NS}:labels"][-1] == {
        "name": "needs-docs",
        "color": "ededed",
        "description": "Docs to write",
    }


def test_repository_and_label_names_match_without_case_as_on_github() -> None:
    values = merged(
        {f"{NS}:repositories": [{"name": "Shop"}]},
        {f"{NS}:repositories": [{"name": "shop", "mergeQueue": True}]},
    )
    # One entry; the top layer's spelling wins, like any field it gives.
    assert values[f"{NS}:repositories"] == [{"name": "shop", "mergeQueue": True}]
    labels = merged({f"{NS}:labels": [{"name": "PLATFORM", "color": "000000"}]})[f"{NS}:labels"]
    assert len(labels) == len(DEFAULT_LABELS)
    assert next(label for label in labels if label["name"].lower() == "platform")["color"] == "000000"


def test_a_repository_of_another_owner_is_another_entry() -> None:
    values = merged(
        {f"{NS}:repositories": [{"name": "shop", "owner": "acme"}]},
        {f"{NS}:repositories": [{"name": "shop", "owner": "other-org"}]},
    )
    assert [r["owner"] for r in values[f"{NS}:repositories"]] == ["acme", "other-org"]


def test_flags_merge_by_key_and_their_states_by_environment() -> None:
    flag = {"key": "new-checkout", "owner": "shop", "expires": "2027-01-31", "issue": "https://x/1"}
    values = merged(
        {f"{NS}:flags": [{**flag, "environments": {"dev": True}}]},
        {f"{NS}:flags": {"extend": [{"key": "new-checkout", "environments": {"staging": True}}]}},
    )
    assert values[f"{NS}:flags"] == [{**flag, "environments": {"dev": True, "staging": True}}]


# -- removal, extension, replacement ---------------------------------------------------------------


def test_remove_drops_named_entries_and_extend_adds_them() -> None:
    values = merged(
        {
            f"{NS}:labels": {
                "remove": ["platform", "infra-change"],
                "extend": [{"name": "x", "color": "ffffff"}],
            }
        }
    )
    labels = names(values[f"{NS}:labels"])
    assert "platform" not in labels and "infra-change" not in labels
    assert labels[-1] == "x"
    assert len(labels) == len(DEFAULT_LABELS) - 1


def test_scalar_lists_are_extended_without_restating_them() -> None:
    base = {f"{NS}:environments": [{"name": "production", "reviewers": {"teams": {"extend": ["sre"]}}}]}
    stack = {
        f"{NS}:environments": [{"name": "production", "reviewers": {"teams": {"extend": ["sre", "cto"]}}}]
    }
    production = merged(base, stack)[f"{NS}:environments"][2]
    # Extending with a value already there keeps it once.
    assert production["reviewers"]["teams"] == ["release-managers", "sre", "cto"]


def test_a_plain_scalar_list_replaces_and_remove_takes_values_out() -> None:
    base = {f"{NS}:mergeGate": {"requiredChecks": ["security-scan", "unit-tests-python", "lint-python"]}}
    assert merged(base, {f"{NS}:mergeGate": {"requiredChecks": ["security-scan"]}})[f"{NS}:mergeGate"] == {
        "requiredChecks": ["security-scan"]
    }
    removed = merged(base, {f"{NS}:mergeGate": {"requiredChecks": {"remove": ["lint-python"]}}})
    assert removed[f"{NS}:mergeGate"]["requiredChecks"] == ["security-scan", "unit-tests-python"]


def test_replace_takes_exactly_the_given_list() -> None:
    chain = [
        {"name": "dev", "stack": "dev"},
        {"name": "production", "stack": "prod", "promotesFrom": "dev", "reviewers": {"teams": ["rm"]}},
    ]
    values = merged({f"{NS}:environments": {"replace": chain}})
    assert values[f"{NS}:environments"] == chain


def test_maps_merge_key_by_key() -> None:
    values = merged(
        {
            f"{NS}:mergeGate": {"strict": False},
            f"{NS}:aws": {"accountId": "123456789012", "region": "eu-west-1"},
        },
        {f"{NS}:mergeGate": {"platformTeam": "infra"}, f"{NS}:aws": {"region": "us-east-1"}},
    )
    assert values[f"{NS}:mergeGate"] == {"strict": False, "platformTeam": "infra"}
    assert values[f"{NS}:aws"] == {"accountId": "123456789012", "region": "us-east-1"}


def test_scalars_and_other_namespaces_are_replaced() -> None:
    values = merged({"github:owner": "acme", f"{NS}:protectResources": False}, {"github:owner": "other"})
    assert values == {"github:owner": "other", f"{NS}:protectResources": False}


def test_without_directives_or_lists_nothing_changes() -> None:
    # The shipped stacks' shape: values pass through untouched (their plans stay byte-identical).
    values = {"github:owner": "acme", f"{NS}:environment": "dev", f"{NS}:repositories": [{"name": "aos"}]}
    assert merged(values) == values


# -- errors name the file and the dotted path as written there ------------------------------------


def test_removing_an_unknown_name_names_the_file_and_the_names_there_are() -> None:
    with pytest.raises(PolicyError) as error:
        merge_layers(
            [
                Layer(BASE, {f"{NS}:repositories": [{"name": "shop"}]}),
                Layer(STACK, {f"{NS}:repositories": {"remove": ["shopp"]}}),
            ]
        )
    ((path, source, allowed),) = problems_of(error)
    assert (path, source) == (f"{NS}:repositories.remove[0]", None)  # the error's own file
    assert "'shop'" in allowed
    assert str(error.value).startswith(f"{STACK}: invalid delivery-gate configuration")


def test_an_unknown_directive_is_refused_with_what_is_allowed() -> None:
    with pytest.raises(PolicyError) as error:
        merge_layers([Layer(BASE, {f"{NS}:labels": {"append": [{"name": "x"}]}}), Layer(STACK, {})])
    ((path, source, allowed),) = problems_of(error)
    assert (path, source) == (f"{NS}:labels", BASE)  # the base file's problem, while loading the stack
    assert "extend" in allowed and "remove" in allowed and "replace" in allowed


def test_replace_goes_alone_and_directives_take_lists() -> None:
    with pytest.raises(PolicyError) as error:
        merge_layers(
            [
                Layer(
                    STACK,
                    {
                        f"{NS}:labels": {"replace": [], "remove": ["platform"]},
                        f"{NS}:checks": {"extend": "x"},
                    },
                )
            ]
        )
    paths = [p for p, _, _ in problems_of(error)]
    assert paths == [f"{NS}:labels", f"{NS}:checks.extend"]


def test_a_name_twice_in_one_file_is_ambiguous() -> None:
    with pytest.raises(PolicyError) as error:
        merge_layers(
            [Layer(BASE, {f"{NS}:repositories": [{"name": "shop"}, {"name": "SHOP"}]}), Layer(STACK, {})]
        )
    ((path, source, allowed),) = problems_of(error)
    assert (path, source) == (f"{NS}:repositories[1].name", BASE)
    assert allowed.startswith("must be unique")


def test_a_derived_list_cannot_be_extended() -> None:
    # mergeGate.requiredChecks unset means every catalogue check: there is no list to edit.
    with pytest.raises(PolicyError) as error:
        merge_layers([Layer(STACK, {f"{NS}:mergeGate": {"requiredChecks": {"remove": ["e2e-parity"]}}})])
    ((path, _, allowed),) = problems_of(error)
    assert path == f"{NS}:mergeGate.requiredChecks"
    assert "derived" in allowed


def test_model_problems_name_the_file_the_bad_value_came_from() -> None:
    layered = merge_layers(
        [
            Layer(BASE, {f"{NS}:repositories": [{"name": "shop", "languages": ["cobol"]}]}),
            Layer(
                STACK, {f"{NS}:environment": "production", f"{NS}:labels": [{"name": "x", "color": "nope"}]}
            ),
        ]
    )
    with pytest.raises(PolicyError) as error:
        load_policy(
            namespace_values(layered.values),
            stack="prod",
            github_owner="acme",
            source=STACK,
            origins=layered.origins,
        )
    found = {path: source for path, source, _ in problems_of(error)}
    # The base file's value is named with its file; the stack file's is the error's own file.
    assert found[f"{NS}:repositories[0].languages[0]"] == BASE
    # The new label is appended after the policy's labels, but the path is the one written in the file.
    assert found[f"{NS}:labels[0].color"] is None
    message = str(error.value)
    assert message.startswith(f"{STACK}: invalid delivery-gate configuration")
    assert f"{NS}:repositories[0].languages[0] (in {BASE}): got 'cobol'" in message


def test_origins_follow_entries_through_removals() -> None:
    layered = merge_layers(
        [
            Layer(BASE, {f"{NS}:repositories": [{"name": "a"}, {"name": "b", "languages": ["python"]}]}),
            Layer(
                STACK,
                {f"{NS}:repositories": {"remove": ["a"], "extend": [{"name": "b", "mergeQueue": True}]}},
            ),
        ]
    )
    assert layered.values[f"{NS}:repositories"] == [
        {"name": "b", "languages": ["python"], "mergeQueue": True}
    ]
    assert layered.sources_of(f"{NS}:repositories[0].languages") == [BASE]
    assert layered.sources_of(f"{NS}:repositories[0].mergeQueue") == [STACK]
    assert layered.sources_of(f"{NS}:labels") == []
    # An empty list of named entries merges nothing away: the labels are all the policy's.
    assert merge_layers([Layer(STACK, {f"{NS}:labels": []})]).sources_of(f"{NS}:labels") == [POLICY_DEFAULT]


def test_parse_path() -> None:
    assert parse_path(f"{NS}:environments[2].reviewers.teams[0]") == (
        f"{NS}:environments",
        2,
        "reviewers",
        "teams",
        0,
    )


def test_policy_defaults_round_trip_through_the_merge() -> None:
    # Entries taken from the policy defaults (dumped as a stack file writes them) validate back to
    # exactly the defaults: merging with them changes nothing that was not given.
    values = merged(
        {
            f"{NS}:environments": {"extend": []},
            f"{NS}:labels": {"extend": []},
            f"{NS}:checks": {"extend": []},
            f"{NS}:environment": "dev",
            f"{NS}:repositories": [{"name": "aos"}],
        }
    )
    plain = policy({f"{NS}:environment": "dev", f"{NS}:repositories": [{"name": "aos"}]}, "dev")
    assert policy(values, "dev") == plain


def test_merging_tens_of_thousands_of_entries_takes_linear_time() -> None:
    # A 1 MiB stack file can hold ~50,000 short entries: merging by name must not be quadratic (it
    # was, by accident, once: 425 s for this test; linear, it takes a few seconds on a loaded machine).
    import time  # noqa: PLC0415

    many = [{"name": f"label-{i}", "color": "ededed"} for i in range(50_000)]
    started = time.monotonic()
    values = merged(
        {f"{NS}:labels": many, f"{NS}:mergeGate": {"requiredChecks": [f"c{i}" for i in range(50_000)]}},
        {
            f"{NS}:labels": {"remove": [f"label-{i}" for i in range(0, 50_000, 2)], "extend": many[1::2]},
            f"{NS}:mergeGate": {"requiredChecks": {"extend": [f"c{i}" for i in range(50_000)]}},
        },
    )
    assert time.monotonic() - started < 60
    assert len(values[f"{NS}:labels"]) == len(DEFAULT_LABELS) + 25_000
    assert len(values[f"{NS}:mergeGate"]["requiredChecks"]) == 50_000


def test_a_repository_is_removed_by_name_or_by_owner_and_name() -> None:
    base = {f"{NS}:repositories": [{"name": "shop", "owner": "acme"}, {"name": "shop", "owner": "other"}]}
    values = merged(base, {f"{NS}:repositories": {"remove": ["other/shop"]}})
    assert values[f"{NS}:repositories"] == [{"name": "shop", "owner": "acme"}]
    values = merged(base, {f"{NS}:repositories": {"remove": ["shop"]}})  # the first of that name
    assert values[f"{NS}:repositories"] == [{"name": "shop", "owner": "other"}]
    with pytest.raises(PolicyError):
        merged(base, {f"{NS}:repositories": {"remove": ["third/shop"]}})
