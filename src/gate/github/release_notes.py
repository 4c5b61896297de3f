"""Release notes (delivery-policy.md §Release Notes), as the gate renders and commits them.

DP §Release Notes: "Customer-facing release notes written; Changes categorized (new feature,
improvement, fix, deprecation); Breaking changes clearly highlighted; Migration instructions
provided if applicable". Rule GATE-DP-15, enforced in three places:

- the category labels (`releaseNotes.categories`, declared among the repository's labels) and
  `.github/release.yml`, GitHub's configuration of generated release notes: one category per
  label, breaking changes FIRST, the gate's internal labels (`releaseNotes.excludeLabels`) left out;
- the required `release-notes` check (release-notes.yml, tools/release_check.py): a pull request
  with no category label fails, saying which labels are allowed; one labelled
  `releaseNotes.breakingLabel` fails unless its description has a `releaseNotes.migrationHeading`
  section with text. It runs on every pull request (GATE-M9-03) and again when labels or the
  description change (labeled, unlabeled, edited), which GitHub reports under the same check name
  on the same head commit;
- publish-release-notes.yml: a pushed tag `<tagPrefix>*` publishes the release with GitHub's
  generated notes rearranged by tools/release_check.py: breaking changes first, each with its
  migration section. Its job alone holds `contents: write`.

What stays human judgement: whether a title reads well to a customer and the label is the right
one; the check proves every change is categorised and every breaking one says how to migrate.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gate.github import actions, release_contract, workflows
from gate.github.yamltext import dump
from gate.policy.model import Check, GatePolicy, Repository

CHECK_NAME = "release-notes"
WORKFLOW_FILE = "release-notes.yml"
PUBLISH_WORKFLOW = "publish-release-notes.yml"
PUBLISH_JOB = "publish-release-notes"
RELEASE_CONFIG_PATH = ".github/release.yml"
COMMAND = f"python {release_contract.RELEASE_CHECK_PATH} pull-request --check {CHECK_NAME}"

# GitHub's defaults (liveness), and what changes the verdict: a label added or removed, the
# description edited (its Migration section).
PULL_REQUEST_TYPES = ("opened", "synchronize", "reopened", "edited", "labeled", "unlabeled")

# Titles of the categories in the notes (DP: "new feature, improvement, fix, deprecation").
TITLES = {
    "breaking-change": "Breaking changes",
    "feature": "New features",
    "improvement": "Improvements",
    "fix": "Fixes",
    "deprecation": "Deprecations",
}


def title(label: str) -> str:
    return TITLES.get(label, label)


def ordered_categories(policy: GatePolicy) -> tuple[str, ...]:
    """The categories with the breaking one first (DP: "Breaking changes clearly highlighted")."""
    notes = policy.release_notes
    return (notes.breaking_label, *(label for label in notes.categories if label != notes.breaking_label))


def render_release_config(policy: GatePolicy) -> str:
    """.github/release.yml: GitHub's generated release notes grouped by the category labels."""
    notes = policy.release_notes
    config: dict[str, Any] = {"changelog": {}}
    if notes.exclude_labels:
        config["changelog"]["exclude"] = {"labels": list(notes.exclude_labels)}
    config["changelog"]["categories"] = [
        {"title": title(label), "labels": [label]} for label in ordered_categories(policy)
    ]
    header = (
        "# Managed by delivery-gate (Pulumi), rendered from the delivery policy (delivery-policy.md\n"
        "# §Release Notes): edits here are overwritten on the next `pulumi up`.\n"
    )
    return header + dump(config)


def check_env(policy: GatePolicy) -> dict[str, str]:
    """The check step's env: validated model fields, and the job's token (merge queue: the pull
    request's labels and description are read with `gh api`)."""
    notes = policy.release_notes
    return {
        "GH_TOKEN": "${{ github.token }}",
        "CATEGORY_LABELS": "\n".join(notes.categories),
        "BREAKING_LABEL": notes.breaking_label,
        "MIGRATION_HEADING": notes.migration_heading,
    }


def triggers(pr_triggers: Mapping[str, Any]) -> dict[str, Any]:
    on = {
        event: dict(config) if isinstance(config, Mapping) else config
        for event, config in pr_triggers.items()
    }
    on["pull_request"] = {**on["pull_request"], "types": list(PULL_REQUEST_TYPES)}
    return on


# -- the jobs ----------------------------------------------------------------------------------


def contract_job(check: Check, policy: GatePolicy, repo: Repository) -> workflows.Job:
    """Always reported; the script decides whether the pull request is a release."""
    s = policy.workflows
    steps: list[workflows.Step] = [
        workflows.checkout(**{"fetch-depth": 0}),  # the diff base...head for changed contracts
        workflows.setup_python(s),
        workflows.run(
            "Check the release contract",
            release_contract.COMMAND,
            **release_contract.check_env(policy, repo),
        ),
    ]
    return workflows.job(check, s, steps, permissions={"contents": "read"})


def notes_job(check: Check, policy: GatePolicy, repo: Repository) -> workflows.Job:
    """Always reported: the pull request's labels and description decide."""
    s = policy.workflows
    steps: list[workflows.Step] = [
        workflows.checkout(),
        workflows.setup_python(s),
        workflows.run("Check the release-notes labels", COMMAND, **check_env(policy)),
    ]
    return workflows.job(check, s, steps, permissions={"contents": "read", "pull-requests": "read"})


_GENERATE = """\
const fs = require('fs');
const { data: notes } = await github.rest.repos.generateReleaseNotes({
  ...context.repo,
  tag_name: process.env.TAG,
});
fs.writeFileSync(process.env.GENERATED, JSON.stringify(notes));
// The pull requests of the breaking-changes category: their Migration sections go first.
const lines = (notes.body || '').split('\\n');
const start = lines.findIndex((line) => line.trim() === `### ${process.env.BREAKING_TITLE}`);
const numbers = [];
for (const line of start < 0 ? [] : lines.slice(start + 1)) {
  if (/^#{1,6} /.test(line)) break;
  const found = line.match(/\\/pull\\/(\\d+)\\b/);
  if (found) numbers.push(Number(found[1]));
}
const pulls = [];
for (const number of numbers) {
  const { data: pull } = await github.rest.pulls.get({ ...context.repo, pull_number: number });
  pulls.push({
    number: pull.number,
    title: pull.title,
    body: pull.body || '',
    html_url: pull.html_url,
    labels: (pull.labels || []).map((label) => ({ name: label.name })),
  });
}
fs.writeFileSync(process.env.PULLS, JSON.stringify(pulls));
core.info(`generated notes for ${process.env.TAG}: ${pulls.length} breaking change(s)`);
"""

_COMPOSE = (
    f'python {release_contract.RELEASE_CHECK_PATH} publish --tag "$TAG" --generated "$GENERATED" '
    '--pulls "$PULLS" --output "$NOTES"'
)

_PUBLISH = """\
const fs = require('fs');
const tag = process.env.TAG;
const body = fs.readFileSync(process.env.NOTES, 'utf8');
let release = null;
try {
  ({ data: release } = await github.rest.repos.getReleaseByTag({ ...context.repo, tag }));
} catch (error) {
  if (error.status !== 404) throw error;
}
if (release && release.id) {
  await github.rest.repos.updateRelease({ ...context.repo, release_id: release.id, body });
  core.notice(`updated the notes of release ${tag}`);
} else {
  await github.rest.repos.createRelease({ ...context.repo, tag_name: tag, name: tag, body });
  core.notice(`published release ${tag}`);
}
"""


def publish_workflow(policy: GatePolicy, repo: Repository) -> dict[str, Any]:
    """On a release tag, publish the customer-facing notes (DP §Release Notes)."""
    del repo  # the same for every repository; kept for the builders' signature
    notes, s = policy.release_notes, policy.workflows
    files = {
        "GENERATED": "${{ runner.temp }}/generated-notes.json",
        "PULLS": "${{ runner.temp }}/breaking-pulls.json",
        "NOTES": "${{ runner.temp }}/release-notes.md",
    }
    tag = {"TAG": "${{ github.ref_name }}"}
    steps: list[workflows.Step] = [
        workflows.checkout(),  # the tagged commit's tools/release_check.py
        workflows.setup_python(s),
        {
            "name": "Generate the notes (grouped by .github/release.yml)",
            "env": {**tag, "BREAKING_TITLE": title(notes.breaking_label), **files},
            **workflows.uses(actions.GITHUB_SCRIPT, script=_GENERATE),
        },
        workflows.run(
            "Breaking changes first, with their migration",
            _COMPOSE,
            **tag,
            **files,
            TAG_PREFIX=notes.tag_prefix,
            BREAKING_LABEL=notes.breaking_label,
            MIGRATION_HEADING=notes.migration_heading,
        ),
        {
            "name": "Publish the release notes",
            "env": {**tag, "NOTES": files["NOTES"]},
            **workflows.uses(actions.GITHUB_SCRIPT, script=_PUBLISH),
        },
    ]
    body = workflows.job(PUBLISH_JOB, s, steps, permissions={"contents": "write", "pull-requests": "read"})
    on = {"push": {"tags": [f"{notes.tag_prefix}*"]}}
    # One publication per tag at a time; a second push of the same tag waits, never cancels.
    concurrency = {"group": "publish-release-notes-${{ github.ref }}", "cancel-in-progress": False}
    return workflows.workflow("publish-release-notes", on, {PUBLISH_JOB: body}, concurrency=concurrency)
