"""mismatch-automation.yml: what a runtime alert makes the gated repository do. Pure, YAML text out.

M9 §Post-merge 2: "`aos_replay_mismatch_total` increases above threshold in 5m → Rollback to previous
image tag, open an operator incident, create a high-priority GitHub issue via mismatch automation,
notify #oncall and #platform". §Thresholds: "p95 > target (from SLO mapper): create an alerting ticket
and notify #platform". DP §Rollback Criteria: a critical alert rolls back.

The alert relay (gate/runtime/relay.py, tools/alert_relay.py) sends each firing `action: rollback` or
`action: ticket` alert here as a `repository_dispatch` (event type relay.EVENT_TYPE) whose
client_payload has ten strings: alertname, fingerprint, environment, namespace, action, severity,
summary, runbook_url, status, source. Jobs:

- `triage`: validates the payload before anything uses it: the environment must be one of the
  chain (mapped to its stack here, from the policy), the fingerprint 8-64 hex digits, the action
  rollback or ticket; a resolved alert does nothing. Only validated values leave it (outputs).
- `rollback` (action rollback): `python -m gate rollback --stack <stack> --reason "<alert>
  <fingerprint>"` from the delivery-gate checkout, in the reviewer-free GitHub environment
  `<environment>-rollback` (its secrets and, with `aws`, its deploy role variables), one rollback
  per environment at a time. The command's contract: exit 0 once the environment runs its last
  validated image.
- `high-priority issue` (action rollback, whatever the rollback did): the `parity-mismatch` +
  `high-priority` issue, once per fingerprint (a marker in the body, looked up among the open
  issues first), then #oncall and #platform on Slack.
- `operator incident` (action rollback, when monitoring.incidents.provider is set): PagerDuty
  Events v2 (dedup_key = fingerprint) or Opsgenie (alias = fingerprint), so a repeated
  notification updates the same incident.
- `ticket` (action ticket): an issue labelled `platform`, once per fingerprint, and #platform.

The payload is untrusted: anyone who can write to the repository can dispatch. Its values reach
scripts only through `env:` (never `${{ }}` in a script), are validated or treated as data (JSON
built by json.dumps, issue text through a file), and are never printed as they are (a line starting
with `::` would be a workflow command).
"""

from __future__ import annotations

from typing import Any

from gate.github import actions
from gate.github import workflows as w
from gate.github.yamltext import Commented
from gate.policy.model import GatePolicy, Repository
from gate.policy.types import IncidentProvider
from gate.runtime import relay

FILE = "mismatch-automation.yml"
NAME = "mismatch-automation"
PAYLOAD = "github.event.client_payload"
ROLLBACK_LABELS = ("parity-mismatch", "high-priority")  # M9 §Post-merge 2, the gate's labels
TICKET_LABELS = ("platform",)  # the platform team's (#platform) tickets
# The marker that makes an issue the one of an alert: `<!-- delivery-gate-alert: <fingerprint> -->`.
MARKER_PREFIX = "<!-- delivery-gate-alert: "
PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"
OPSGENIE_URL = "https://api.opsgenie.com/v2/alerts"
# A repository secret read outside a GitHub environment: the incident key can only create
# incidents, and this workflow runs on the default branch only (repository_dispatch).
_OUTSIDE_ENV = "zizmor: ignore[secrets-outside-env]"
INCIDENT_SECRET_REASON = f"{_OUTSIDE_ENV} an events-API key that only opens incidents; default branch only"
SLACK_SECRET_REASON = f"{_OUTSIDE_ENV} the bot token deploy.yml's rollbacks post with; default branch only"


def documents(policy: GatePolicy, repo: Repository) -> dict[str, dict[str, Any]]:
    """The workflow for the repository the alert relay dispatches to; none for the others."""
    if not relay.enabled(policy) or repo.full_name != policy.relay_repository.full_name:
        return {}
    return {FILE: workflow(policy)}


def _payload(key: str) -> str:
    return f"${{{{ {PAYLOAD}.{key} }}}}"


def _need(job_id: str, output: str) -> str:
    return f"${{{{ needs.{job_id}.outputs.{output} }}}}"


RUN_URL = "${{ github.server_url }}/${{ github.repository }}/actions/runs/${{ github.run_id }}"


# -- triage ---------------------------------------------------------------------------------------


def triage_script(policy: GatePolicy) -> str:
    environments = [env.name for env in policy.environments]
    stacks = "".join(f"  {env.name}) stack={env.stack} ;;\n" for env in policy.environments)
    return (
        "set -euo pipefail\n"
        "# Every value here is the dispatch's client_payload: untrusted text. It is validated before\n"
        "# anything uses it and never printed as it is (a line starting with :: is a workflow command).\n"
        "shown() { printf '%s' \"${1:0:64}\" | tr -c 'A-Za-z0-9._:-' '?'; }\n"
        'case "$ENVIRONMENT" in\n'
        f"{stacks}"
        "  *)\n"
        '    environment=$(shown "$ENVIRONMENT")\n'
        f"    echo \"::error::unknown environment '$environment' in the dispatch; allowed: "
        f'{", ".join(environments)}"\n'
        "    exit 1 ;;\n"
        "esac\n"
        'if [[ ! "$FINGERPRINT" =~ ^[0-9a-f]{8,64}$ ]]; then\n'
        '  echo "::error::the dispatch carries no alert fingerprint (8-64 lower-case hex digits)"\n'
        "  exit 1\n"
        "fi\n"
        'alert=$(shown "${ALERTNAME:-alert}")\n'
        'if [ "$STATUS" != firing ]; then\n'
        '  echo "::notice::$alert ($FINGERPRINT) in $ENVIRONMENT is not firing: nothing to act on"\n'
        "  exit 0\n"
        "fi\n"
        'case "$ACTION" in\n'
        f"  {' | '.join(relay.ACTIONS)}) ;;\n"
        "  *)\n"
        '    action=$(shown "$ACTION")\n'
        "    echo \"::error::unknown action '$action' in the dispatch; allowed: "
        f'{", ".join(relay.ACTIONS)}"\n'
        "    exit 1 ;;\n"
        "esac\n"
        "{\n"
        '  echo "environment=$ENVIRONMENT"\n'
        '  echo "stack=$stack"\n'
        '  echo "action=$ACTION"\n'
        '  echo "fingerprint=$FINGERPRINT"\n'
        '  echo "alert=$alert"\n'
        '} >> "$GITHUB_OUTPUT"\n'
        'echo "$alert ($FINGERPRINT) in $ENVIRONMENT: $ACTION"\n'
    )


def triage_job(policy: GatePolicy) -> w.Job:
    step = {
        "id": "alert",
        **w.run(
            "Validate the alert",
            triage_script(policy),
            ALERTNAME=_payload("alertname"),
            FINGERPRINT=_payload("fingerprint"),
            ENVIRONMENT=_payload("environment"),
            ACTION=_payload("action"),
            STATUS=_payload("status"),
        ),
    }
    outputs = {key: f"${{{{ steps.alert.outputs.{key} }}}}" for key in ("environment", "stack", "action")}
    outputs |= {key: f"${{{{ steps.alert.outputs.{key} }}}}" for key in ("fingerprint", "alert")}
    # Reads nothing and writes nothing: no permissions at all.
    return w.job("triage", policy.workflows, [step], permissions={}, outputs=outputs)


# -- rollback -------------------------------------------------------------------------------------

ROLLBACK_COMMAND = 'python -m gate rollback --stack "$STACK" --reason "$REASON"'
ACTS_ON = "needs.triage.outputs.action"


def rollback_job(policy: GatePolicy, repo: Repository) -> w.Job:
    s = policy.workflows
    backend = {
        name: f"${{{{ secrets.{name} }}}}" for name in ("PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE")
    }
    steps: list[w.Step] = [
        w.gate_checkout(s, repo.owner or ""),
        w.setup_python(s),
        w.install_gate(),
        {"name": "Install Pulumi CLI", **w.uses(actions.PULUMI)},
        # The stack's cluster and state, with the environment's role when `aws` is set.
        *w.aws_login(policy),
        {
            **w.run(
                "Roll the environment back to its last validated image",
                ROLLBACK_COMMAND,
                STACK=_need("triage", "stack"),
                REASON=f"{_need('triage', 'alert')} {_need('triage', 'fingerprint')}",
                **backend,
            ),
            "working-directory": ".delivery-gate",
        },
    ]
    body = w.job(
        "rollback",
        s,
        steps,
        # No reviewers there (declared with the rollback command): a runtime rollback must not wait.
        environment={"name": f"{_need('triage', 'environment')}-rollback"},
        # One rollback per environment at a time: a second waits (the stack would be locked).
        concurrency={"group": f"rollback-{_need('triage', 'environment')}", "cancel-in-progress": False},
        permissions=w.deploy_permissions(policy),
    )
    return {"needs": ["triage"], "if": f"${{{{ {ACTS_ON} == 'rollback' }}}}", **body}


# -- issues (the high-priority one and the ticket) -----------------------------------------------

_FIND_ISSUE = """\
import json
import sys

path, marker, label = sys.argv[1:4]
text = open(path, encoding="utf-8").read().strip()
decoder, issues, at = json.JSONDecoder(), [], 0
while at < len(text):  # --paginate prints one JSON array per page
    page, at = decoder.raw_decode(text, at)
    issues += page if isinstance(page, list) else [page]
    while at < len(text) and text[at].isspace():
        at += 1
for issue in issues:
    labels = {item.get("name") for item in issue.get("labels") or [] if isinstance(item, dict)}
    body = issue.get("body") or ""
    if (
        issue.get("state") == "open"
        and "pull_request" not in issue
        and label in labels
        and body.startswith(marker)
    ):
        print(int(issue["number"]))
        break
"""


def issue_script(labels: tuple[str, ...], title: str, lines: list[str]) -> str:
    """Open the issue of this alert unless one is open (its marker starts the body): `url` output."""
    label_flags = " ".join(f"--label {label}" for label in labels)
    body = "".join(f"  printf '%s\\n' {line}\n" for line in lines)
    return (
        "set -euo pipefail\n"
        "# One issue per alert: its fingerprint is a marker starting the body, looked up first.\n"
        f'marker="{MARKER_PREFIX}$FINGERPRINT -->"\n'
        'issues="$RUNNER_TEMP/open-issues.json"\n'
        f'gh api --paginate "repos/$REPOSITORY/issues?state=open&labels={labels[0]}&per_page=100" \\\n'
        '  > "$issues"\n'
        f'existing=$(python3 - "$issues" "$marker" {labels[0]} <<\'PY\'\n'
        f"{_FIND_ISSUE}"
        "PY\n"
        ")\n"
        'if [ -n "$existing" ]; then\n'
        '  echo "::notice::issue #$existing is already open for alert $FINGERPRINT: no new one"\n'
        '  echo "url=$SERVER_URL/$REPOSITORY/issues/$existing" >> "$GITHUB_OUTPUT"\n'
        "  exit 0\n"
        "fi\n"
        "# Data from the alert, shown as text: no HTML comment (a second marker) can be made of it.\n"
        'summary="${SUMMARY//</&lt;}"\n'
        'runbook="${RUNBOOK_URL//</&lt;}"\n'
        'body="$RUNNER_TEMP/issue.md"\n'
        "{\n"
        "  printf '%s\\n' \"$marker\"\n"
        f"{body}"
        '} > "$body"\n'
        f'url=$(gh issue create --repo "$REPOSITORY" --title "{title}" {label_flags} \\\n'
        '  --body-file - < "$body")\n'
        'echo "url=$url" >> "$GITHUB_OUTPUT"\n'
        'echo "opened $url"\n'
    )


def _issue_env(**extra: str) -> dict[str, str]:
    return {
        "GH_TOKEN": "${{ github.token }}",
        "REPOSITORY": "${{ github.repository }}",
        "SERVER_URL": "${{ github.server_url }}",
        "FINGERPRINT": _need("triage", "fingerprint"),
        "ENVIRONMENT": _need("triage", "environment"),
        "ALERT": _need("triage", "alert"),
        # As the alert carried them: data, through env only.
        "SUMMARY": _payload("summary"),
        "RUNBOOK_URL": _payload("runbook_url"),
        "SEVERITY": _payload("severity"),
        "SOURCE": _payload("source"),
        "RUN_URL": RUN_URL,
        **extra,
    }


def _incident_line(policy: GatePolicy) -> str:
    provider = policy.monitoring.incidents.provider
    if provider is IncidentProvider.NONE:
        return '"- Operator incident: no provider is configured (monitoring.incidents); open one by hand."'
    key = "dedup key" if provider is IncidentProvider.PAGERDUTY else "alias"
    return f'"- Operator incident: {provider.value}, {key} $FINGERPRINT (the operator incident job)."'


def _notify(channel: str, text: str, env: dict[str, str]) -> w.Step:
    return w.when(
        "${{ always() }}",
        {
            "name": f"Notify {channel}",
            **w.uses(
                actions.SLACK,
                method="chat.postMessage",
                token=Commented("${{ secrets.SLACK_BOT_TOKEN }}", SLACK_SECRET_REASON),
                # The action's default (errors: false) would let a failed notification pass silently.
                errors=True,
                payload=f'channel: "{channel}"\ntext: "{text}"\n',
            ),
            "env": env,
        },
    )


def issue_job(policy: GatePolicy) -> w.Job:
    n = policy.notifications
    lines = [
        '"**$ALERT** fired in **$ENVIRONMENT** (severity $SEVERITY, from $SOURCE): $summary"',
        '""',
        '"- Automatic rollback of $ENVIRONMENT to its last validated image: $ROLLBACK ($RUN_URL)."',
        _incident_line(policy),
        '"- Runbook: $runbook"',
        '""',
        '"Opened once per alert (fingerprint $FINGERPRINT) by mismatch-automation; a repeated '
        'notification adds nothing."',
    ]
    env = _issue_env(ROLLBACK="${{ needs.rollback.result }}")
    title = "Runtime rollback: $ALERT in $ENVIRONMENT"
    facts = {
        "ALERT": _need("triage", "alert"),
        "ENVIRONMENT": _need("triage", "environment"),
        "ROLLBACK": "${{ needs.rollback.result }}",
        "ISSUE": "${{ steps.issue.outputs.url }}",
        "RUN_URL": RUN_URL,
    }
    message = (
        "Runtime alert ${{ env.ALERT }} in ${{ env.ENVIRONMENT }}: automatic rollback ${{ env.ROLLBACK }}. "
        "Issue: ${{ env.ISSUE }} Run: ${{ env.RUN_URL }}"
    )
    steps: list[w.Step] = [
        {
            "id": "issue",
            **w.run(
                "Open the high-priority issue (once per alert)",
                issue_script(ROLLBACK_LABELS, title, lines),
                **env,
            ),
        },
        *(_notify(channel, message, facts) for channel in (n.oncall, n.platform)),
    ]
    body = w.job("high-priority issue", policy.workflows, steps, permissions={"issues": "write"})
    condition = f"${{{{ always() && needs.triage.result == 'success' && {ACTS_ON} == 'rollback' }}}}"
    return {"needs": ["triage", "rollback"], "if": condition, **body}


def ticket_job(policy: GatePolicy) -> w.Job:
    n = policy.notifications
    lines = [
        '"**$ALERT** fired in **$ENVIRONMENT** (severity $SEVERITY, from $SOURCE): $summary"',
        '""',
        f'"- For the platform team ({n.platform}); runbook: $runbook"',
        '"- Run: $RUN_URL"',
        '""',
        '"Opened once per alert (fingerprint $FINGERPRINT) by mismatch-automation; a repeated '
        'notification adds nothing."',
    ]
    title = "Ticket: $ALERT in $ENVIRONMENT"
    facts = {
        "ALERT": _need("triage", "alert"),
        "ENVIRONMENT": _need("triage", "environment"),
        "ISSUE": "${{ steps.issue.outputs.url }}",
    }
    message = "Ticket: ${{ env.ALERT }} in ${{ env.ENVIRONMENT }}: ${{ env.ISSUE }}"
    steps: list[w.Step] = [
        {
            "id": "issue",
            **w.run(
                "Open the ticket (once per alert)", issue_script(TICKET_LABELS, title, lines), **_issue_env()
            ),
        },
        _notify(n.platform, message, facts),
    ]
    body = w.job("ticket", policy.workflows, steps, permissions={"issues": "write"})
    body["permissions"] = {"issues": Commented("write", f"open the ticket issue for {n.platform}")}
    return {"needs": ["triage"], "if": f"${{{{ {ACTS_ON} == 'ticket' }}}}", **body}


# -- the operator incident ------------------------------------------------------------------------

_PAGERDUTY = """\
import json
import os
import sys

e = os.environ
summary = f"{e['ALERT']} in {e['ENVIRONMENT']}: automatic rollback {e['ROLLBACK']}"
event = {
    "routing_key": e["INCIDENT_KEY"],
    "event_action": "trigger",
    # One incident per alert: a repeated notification updates it.
    "dedup_key": e["FINGERPRINT"],
    "payload": {
        "summary": summary[:1024],
        "source": f"delivery-gate/{e['ENVIRONMENT']}",
        "severity": "critical",
        "component": e["REPOSITORY"],
        "custom_details": {
            "alert": e["ALERT"],
            "fingerprint": e["FINGERPRINT"],
            "summary": e["SUMMARY"][:1000],
            "runbook_url": e["RUNBOOK_URL"][:500],
            "rollback": e["ROLLBACK"],
        },
    },
    "links": [{"href": e["RUN_URL"], "text": "mismatch-automation run"}],
}
with open(sys.argv[1], "w", encoding="utf-8") as out:
    json.dump(event, out)
"""

_OPSGENIE = """\
import json
import os
import sys

e = os.environ
message = f"{e['ALERT']} in {e['ENVIRONMENT']}: automatic rollback {e['ROLLBACK']}"
alert = {
    "message": message[:130],
    # One alert per runtime alert: Opsgenie de-duplicates open alerts by alias.
    "alias": e["FINGERPRINT"],
    "description": f"{e['SUMMARY'][:1000]}\\nRunbook: {e['RUNBOOK_URL'][:500]}\\nRun: {e['RUN_URL']}",
    "priority": "P1",
    "source": "delivery-gate",
    "entity": e["REPOSITORY"],
    "tags": ["delivery-gate", e["ENVIRONMENT"], "rollback"],
    "details": {"fingerprint": e["FINGERPRINT"], "rollback": e["ROLLBACK"]},
}
with open(sys.argv[1], "w", encoding="utf-8") as out:
    json.dump(alert, out)
with open(sys.argv[2], "w", encoding="utf-8") as out:
    out.write(f"Authorization: GenieKey {e['INCIDENT_KEY']}\\n")
"""


def incident_script(policy: GatePolicy) -> str:
    incidents = policy.monitoring.incidents
    pagerduty = incidents.provider is IncidentProvider.PAGERDUTY
    builder, url = (_PAGERDUTY, PAGERDUTY_URL) if pagerduty else (_OPSGENIE, OPSGENIE_URL)
    # The key never reaches a command line: PagerDuty's is in the body, Opsgenie's in a header file.
    headers = "" if pagerduty else ' -H @"$headers"'
    return (
        "set -euo pipefail\n"
        'if [ -z "$INCIDENT_KEY" ]; then\n'
        f'  echo "::error::the repository secret {incidents.secret} is not set: '
        'no operator incident was opened"\n'
        "  exit 1\n"
        "fi\n"
        'event="$RUNNER_TEMP/incident.json"\n'
        'headers="$RUNNER_TEMP/incident.headers"\n'
        "# JSON from json.dumps: the alert's text stays data.\n"
        'python3 - "$event" "$headers" <<\'PY\'\n'
        f"{builder}"
        "PY\n"
        "curl --fail-with-body --silent --show-error --max-time 30 --retry 3 \\\n"
        f"  -H 'Content-Type: application/json'{headers} --data @\"$event\" {url}\n"
        "echo\n"
        f'echo "{incidents.provider.value}: incident for alert $FINGERPRINT in $ENVIRONMENT"\n'
    )


def incident_job(policy: GatePolicy) -> w.Job:
    incidents = policy.monitoring.incidents
    env: dict[str, str | Commented] = {
        "INCIDENT_KEY": Commented(f"${{{{ secrets.{incidents.secret} }}}}", INCIDENT_SECRET_REASON),
        "REPOSITORY": "${{ github.repository }}",
        "FINGERPRINT": _need("triage", "fingerprint"),
        "ENVIRONMENT": _need("triage", "environment"),
        "ALERT": _need("triage", "alert"),
        "SUMMARY": _payload("summary"),
        "RUNBOOK_URL": _payload("runbook_url"),
        "ROLLBACK": "${{ needs.rollback.result }}",
        "RUN_URL": RUN_URL,
    }
    step = w.run(f"Open the operator incident ({incidents.provider.value})", incident_script(policy), **env)
    # Needs no GitHub token at all.
    body = w.job("operator incident", policy.workflows, [step], permissions={})
    condition = f"${{{{ always() && needs.triage.result == 'success' && {ACTS_ON} == 'rollback' }}}}"
    return {"needs": ["triage", "rollback"], "if": condition, **body}


# -- the workflow ---------------------------------------------------------------------------------


def workflow(policy: GatePolicy) -> dict[str, Any]:
    repo = policy.relay_repository
    jobs: dict[str, w.Job] = {
        "triage": triage_job(policy),
        "rollback": rollback_job(policy, repo),
        "issue": issue_job(policy),
    }
    if policy.monitoring.incidents.provider is not IncidentProvider.NONE:
        jobs["incident"] = incident_job(policy)
    jobs["ticket"] = ticket_job(policy)
    on = {"repository_dispatch": {"types": [relay.EVENT_TYPE]}}
    # One run per alert at a time, never cut short: a repeated notification of the same alert waits
    # for the first run and then finds its issue (a third replaces the waiting second, a duplicate).
    concurrency = {"group": f"{NAME}-${{{{ {PAYLOAD}.fingerprint }}}}", "cancel-in-progress": False}
    return w.workflow(NAME, on, jobs, concurrency=concurrency)
