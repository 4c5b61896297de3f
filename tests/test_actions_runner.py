"""The workflow execution harness behaves as GitHub does, on small synthetic workflows.

Each test pins one behaviour that the gate's workflow tests rely on, in a form that fails when the
harness gets it wrong: shell flags, job and step status functions, file commands, the reusable
workflow's context, the concurrency deadlock, and the action fakes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.actions_runner import Event, Harness, UnsupportedWorkflow, WorkflowRun

ZEROS = "0" * 40
PUSH = Event("push", "refs/heads/main", ZEROS)
PIN = "@" + "a" * 40  # fakes ignore the pinned SHA


def make_harness(tmp_path: Path, workflows: dict[str, str], **options: Any) -> Harness:
    directory = tmp_path / "repo" / ".github" / "workflows"
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in workflows.items():
        (directory / name).write_text(text)
    checkouts = {"acme/app": tmp_path / "repo", **options.pop("checkouts", {})}
    return Harness(
        repository="acme/app",
        workflows=directory,
        checkouts=checkouts,
        world=tmp_path / "world",
        work=tmp_path / "work",
        **options,
    )


def run(tmp_path: Path, text: str, event: Event = PUSH, **options: Any) -> WorkflowRun:
    return make_harness(tmp_path, {"ci.yml": text}, **options).run("ci.yml", event)


def jsonl(path: Path) -> list[Any]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def git(directory: Path, *args: str) -> str:
    identity = {f"GIT_{who}_{what}": "t" for who in ("AUTHOR", "COMMITTER") for what in ("NAME", "EMAIL")}
    env = {**os.environ, **identity}
    command = ["git", "-C", str(directory), *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, check=True).stdout.strip()


def stub(bin_dir: Path, name: str, body: str) -> None:
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / name).write_text(f"#!/bin/sh\n{body}")
    (bin_dir / name).chmod(0o755)


PREFIXED = """
on: push
jobs:
  prefixed:
    runs-on: ubuntu-latest
    steps:
      - run: |
          set -euo pipefail
          OUT_DIR=build/canonical printf '%s\\n' --out "$OUT_DIR"
  exported:
    runs-on: ubuntu-latest
    steps:
      - run: |
          set -euo pipefail
          export OUT_DIR=build/canonical
          printf '%s\\n' --out "$OUT_DIR"
"""


def test_an_assignment_prefix_is_not_seen_by_its_own_expansion(tmp_path: Path) -> None:
    wf = run(tmp_path, PREFIXED)
    prefixed = wf.job("prefixed").steps[0]
    assert prefixed.outcome == "failure" and "OUT_DIR: unbound variable" in prefixed.log
    assert wf.job("exported").result == "success"
    assert "--out\nbuild/canonical" in wf.job("exported").steps[0].log
    assert wf.result == "failure"


SHELLS = """
on: push
jobs:
  default:
    runs-on: ubuntu-latest
    steps:
      - run: false | true
  bash:
    runs-on: ubuntu-latest
    steps:
      - run: false | true
        shell: bash
  defaults:
    runs-on: ubuntu-latest
    defaults:
      run:
        shell: bash
    steps:
      - run: false | true
"""


def test_the_default_shell_has_no_pipefail_and_shell_bash_has(tmp_path: Path) -> None:
    wf = run(tmp_path, SHELLS)
    assert wf.job("default").result == "success"
    assert wf.job("bash").result == "failure"
    assert "Process completed with exit code 1" in wf.job("bash").steps[0].log
    assert wf.job("defaults").result == "failure"


NEEDS = """
on: push
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - run: exit 3
  on-failure:
    needs: a
    if: always() && needs.a.result == 'failure'
    runs-on: ubuntu-latest
    steps:
      - run: echo "a was ${{ needs.a.result }}"
  after-a:
    needs: a
    runs-on: ubuntu-latest
    steps:
      - run: echo never
  after-on-failure:
    needs: on-failure
    runs-on: ubuntu-latest
    steps:
      - run: echo never
  failure-only:
    needs: on-failure
    if: failure()
    runs-on: ubuntu-latest
    steps:
      - run: echo an ancestor failed
  independent:
    runs-on: ubuntu-latest
    steps:
      - run: echo fine
"""


def test_job_status_functions_follow_needs_transitively(tmp_path: Path) -> None:
    wf = run(tmp_path, NEEDS)
    assert wf.job("a").result == "failure"
    assert wf.job("on-failure").result == "success"
    assert "a was failure" in wf.job("on-failure").steps[0].log
    assert wf.job("after-a").result == "skipped"
    # success() covers every ancestor: a failed two hops up, so the default if skips this job.
    assert wf.job("after-on-failure").result == "skipped"
    assert wf.job("failure-only").result == "success"
    assert wf.job("independent").result == "success"
    assert list(wf.jobs) == ["a", "on-failure", "after-a", "after-on-failure", "failure-only", "independent"]


STEPS = """
on: push
jobs:
  job:
    runs-on: ubuntu-latest
    steps:
      - id: tolerated
        run: exit 4
        continue-on-error: true
      - id: seen
        run: echo "tolerated ${{ steps.tolerated.outcome }}/${{ steps.tolerated.conclusion }}"
      - id: broken
        run: exit 5
      - id: skipped
        run: echo never
      - id: always
        if: always()
        run: echo "job status ${{ job.status }}"
      - id: on-failure
        if: failure() && steps.broken.outcome == 'failure'
        run: echo cleanup
"""


def test_step_status_functions_and_continue_on_error(tmp_path: Path) -> None:
    job = run(tmp_path, STEPS).job("job")
    assert {s.id: (s.outcome, s.conclusion) for s in job.steps} == {
        "tolerated": ("failure", "success"),
        "seen": ("success", "success"),
        "broken": ("failure", "failure"),
        "skipped": ("skipped", "skipped"),
        "always": ("success", "success"),
        "on-failure": ("success", "success"),
    }
    assert "tolerated failure/success" in job.step("seen").log
    assert "job status failure" in job.step("always").log
    assert job.result == "failure"


FILE_COMMANDS = """
on: push
env:
  LEVEL: workflow
jobs:
  producer:
    runs-on: ubuntu-latest
    env:
      LEVEL: job
    outputs:
      notes: ${{ steps.write.outputs.notes }}
      pair: ${{ steps.write.outputs.pair }}
    steps:
      - id: write
        run: |
          {
            echo "pair=key=value"
            echo "notes<<NOTES_END"
            echo "first line"
            echo "second line"
            echo "NOTES_END"
          } >> "$GITHUB_OUTPUT"
          echo "GREETING=hello" >> "$GITHUB_ENV"
          mkdir -p "$RUNNER_TEMP/tools"
          printf '#!/bin/sh\\necho tool ran\\n' > "$RUNNER_TEMP/tools/mytool"
          chmod +x "$RUNNER_TEMP/tools/mytool"
          echo "$RUNNER_TEMP/tools" >> "$GITHUB_PATH"
          echo "### produced" >> "$GITHUB_STEP_SUMMARY"
      - name: Use them
        env:
          LEVEL: step
        run: |
          echo "greeting $GREETING ${{ env.GREETING }} level $LEVEL"
          mytool
  consumer:
    needs: producer
    runs-on: ubuntu-latest
    steps:
      - env:
          NOTES: ${{ needs.producer.outputs.notes }}
        run: |
          test "$NOTES" = "$(printf 'first line\\nsecond line')"
          echo "pair ${{ needs.producer.outputs.pair }} level $LEVEL"
"""


def test_file_commands_and_job_outputs(tmp_path: Path) -> None:
    wf = run(tmp_path, FILE_COMMANDS)
    producer = wf.job("producer")
    assert producer.step("write").outputs == {"pair": "key=value", "notes": "first line\nsecond line"}
    assert "greeting hello hello level step" in producer.step("Use them").log
    assert "tool ran" in producer.step("Use them").log
    assert producer.outputs == {"notes": "first line\nsecond line", "pair": "key=value"}
    assert wf.job("consumer").result == "success"
    assert "pair key=value level workflow" in wf.job("consumer").steps[0].log
    assert wf.summary == "### produced\n"


def test_a_heredoc_without_its_delimiter_fails_the_step(tmp_path: Path) -> None:
    text = """
on: push
jobs:
  job:
    runs-on: ubuntu-latest
    steps:
      - run: printf 'notes<<END\\nno end\\n' >> "$GITHUB_OUTPUT"
"""
    job = run(tmp_path, text).job("job")
    assert job.result == "failure"
    assert "Matching delimiter not found 'END'" in job.steps[0].log


ENVIRONMENT = """
on: push
jobs:
  job:
    runs-on: ubuntu-latest
    steps:
      - run: |
          echo "leak=${LEAKED_FROM_TESTS:-none} ci=$CI world=$GATE_HARNESS_WORLD extra=$EXTRA"
          echo "ref=$GITHUB_REF sha=$GITHUB_SHA event=$GITHUB_EVENT_NAME repo=$GITHUB_REPOSITORY"
          echo "secret=${{ secrets.DEPLOY_KEY }}"
          gh
          python -c 'import sys; print("python", sys.prefix)'
"""


def test_steps_get_a_minimal_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEAKED_FROM_TESTS", "yes")
    stub(tmp_path / "bin", "gh", "echo stub gh\n")
    options: dict[str, Any] = {
        "bin_dirs": [tmp_path / "bin"],
        "secrets": {"DEPLOY_KEY": "s3cr3t"},
        "env": {"EXTRA": "given"},
    }
    log = run(tmp_path, ENVIRONMENT, **options).job("job").steps[0].log
    assert f"leak=none ci=true world={tmp_path / 'world'} extra=given" in log
    assert f"ref=refs/heads/main sha={ZEROS} event=push repo=acme/app" in log
    assert "secret=***" in log and "s3cr3t" not in log
    assert "stub gh" in log and "python " in log


def test_a_fork_pull_request_gets_no_secrets(tmp_path: Path) -> None:
    text = """
on: pull_request
jobs:
  job:
    runs-on: ubuntu-latest
    steps:
      - run: echo "key=[${{ secrets.DEPLOY_KEY }}] pr=${{ github.event.pull_request.number }}"
"""
    payload = {"pull_request": {"number": 7, "head": {"repo": {"full_name": "mallory/app"}}}}
    fork = Event("pull_request", "refs/pull/7/merge", "1" * 40, payload)
    wf = run(tmp_path, text, fork, secrets={"DEPLOY_KEY": "s3cr3t"})
    assert "key=[] pr=7" in wf.job("job").steps[0].log


CALLEE = """
name: Parity check
on:
  workflow_call:
    inputs:
      target:
        type: string
        required: true
      strict:
        type: boolean
        default: true
      retries:
        type: number
        default: 2
    outputs:
      seen:
        value: ${{ jobs.check.outputs.seen }}
concurrency:
  group: GROUP
jobs:
  check:
    runs-on: ubuntu-latest
    outputs:
      seen: ${{ steps.look.outputs.seen }}
      token: ${{ secrets.TOKEN }}
    steps:
      - id: look
        env:
          SEEN: ${{ github.workflow }}|${{ inputs.target }}|${{ inputs.strict == true }}|${{ inputs.retries }}
        run: |
          echo "seen=$SEEN|${{ github.event_name }}" >> "$GITHUB_OUTPUT"
          echo "token ${{ secrets.TOKEN }}"
  verdict:
    needs: check
    runs-on: ubuntu-latest
    steps:
      - run: exit ${{ inputs.strict && 1 || 0 }}
"""

CALLER = """
name: Deploy
on: push
concurrency:
  group: deploy-${{ github.ref }}
  cancel-in-progress: false
jobs:
  parity:
    uses: ./.github/workflows/parity.yml
    with:
      target: dev
    secrets: inherit
  notify:
    needs: parity
    if: failure()
    runs-on: ubuntu-latest
    steps:
      - run: echo "seen ${{ needs.parity.outputs.seen }}"
"""


def test_a_called_workflow_sees_the_callers_context(tmp_path: Path) -> None:
    callee = CALLEE.replace("GROUP", "parity-${{ inputs.target }}-${{ github.ref }}")
    harness = make_harness(tmp_path, {"deploy.yml": CALLER, "parity.yml": callee}, secrets={"TOKEN": "t0ken"})
    wf = harness.run("deploy.yml", PUSH)
    parity = wf.job("parity")
    assert parity.called is not None and parity.called.name == "Parity check"
    # github.workflow in the called workflow is the CALLER's name; boolean inputs are booleans.
    assert parity.outputs == {"seen": "Deploy|dev|true|2|push"}
    check = wf.job("parity/check")
    assert check.result == "success" and "token ***" in check.steps[0].log
    assert check.outputs["token"] == ""  # GitHub drops a job output that contains a secret
    assert wf.job("parity/verdict").result == "failure"
    assert parity.result == "failure"
    assert wf.job("notify").result == "success"
    assert "seen Deploy|dev|true|2|push" in wf.job("notify").steps[0].log
    assert wf.groups == ["deploy-refs/heads/main", "parity-dev-refs/heads/main"]
    assert wf.concurrency_group == "deploy-refs/heads/main"


def test_a_called_workflow_in_the_callers_concurrency_group_is_cancelled(tmp_path: Path) -> None:
    # The caller is named `deploy`, so the callee's `${{ github.workflow }}-...` is the caller's group.
    callee = CALLEE.replace("GROUP", "${{ github.workflow }}-${{ github.ref }}")
    caller = CALLER.replace("name: Deploy", "name: deploy")
    wf = make_harness(tmp_path, {"deploy.yml": caller, "parity.yml": callee}).run("deploy.yml", PUSH)
    parity = wf.job("parity")
    assert parity.result == "cancelled"
    assert parity.reason == (
        "Canceling since a deadlock for concurrency group 'deploy-refs/heads/main' was detected between "
        "'top level workflow' and 'parity'"
    )
    assert parity.called is not None and parity.called.jobs == {}
    assert wf.job("notify").result == "skipped"  # a cancelled need is not a failure
    assert wf.result == "cancelled"
    assert wf.groups == ["deploy-refs/heads/main", "deploy-refs/heads/main"]


def test_call_inputs_are_checked(tmp_path: Path) -> None:
    caller = CALLER.replace("target: dev", "target: dev\n      stict: false")
    wf = make_harness(tmp_path, {"deploy.yml": caller, "parity.yml": CALLEE}).run("deploy.yml", PUSH)
    assert wf.job("parity").result == "failure"
    assert "stict is not defined in the referenced workflow" in wf.job("parity").reason


DISPATCH = """
on:
  workflow_dispatch:
    inputs:
      env:
        default: dev
      dry-run:
        type: boolean
concurrency: deploy-${{ inputs.env }}
jobs:
  deploy:
    runs-on: ubuntu-latest
    concurrency: deploy-${{ inputs.env }}
    steps:
      - run: echo never
  other:
    runs-on: ubuntu-latest
    concurrency: other-${{ inputs.env }}
    steps:
      - run: echo "${{ inputs.env }} ${{ github.event.inputs.env }} ${{ inputs.dry-run == false }}"
"""


def test_a_job_in_the_workflows_group_is_cancelled(tmp_path: Path) -> None:
    wf = run(tmp_path, DISPATCH, Event("workflow_dispatch", "refs/heads/main", ZEROS, inputs={"env": "prod"}))
    assert wf.job("deploy").result == "cancelled" and "'deploy-prod'" in wf.job("deploy").reason
    assert wf.job("other").result == "success" and "prod prod true" in wf.job("other").steps[0].log
    assert wf.groups == ["deploy-prod", "deploy-prod", "other-prod"]


def test_a_matrix_is_refused(tmp_path: Path) -> None:
    text = """
on: push
jobs:
  job:
    runs-on: ubuntu-latest
    strategy:
      matrix:
        python: ["3.11", "3.12"]
    steps:
      - run: echo ${{ matrix.python }}
"""
    with pytest.raises(UnsupportedWorkflow, match="strategy"):
        run(tmp_path, text)


CHECKOUT = f"""
on: push
jobs:
  full:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout{PIN}
        with:
          fetch-depth: 0
      - uses: actions/checkout{PIN}
        with:
          repository: acme/lib
          ref: v1
          path: deps/lib
      - run: |
          cat VERSION deps/lib/VERSION
          git diff --stat "$BASE" HEAD
          test ! -e untracked.txt
  shallow:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout{PIN}
      - run: git diff --stat "$BASE" HEAD
  missing:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout{PIN}
        with:
          repository: acme/nowhere
"""


def test_checkout_fetches_a_git_source_at_a_ref_into_a_path(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    git(lib, "init", "-q", "-b", "main")
    (lib / "VERSION").write_text("1\n")
    git(lib, "add", "VERSION")
    git(lib, "commit", "-q", "-m", "one")
    git(lib, "tag", "v1")
    (lib / "VERSION").write_text("2\n")
    git(lib, "commit", "-q", "-am", "two")
    (lib / "untracked.txt").write_text("not committed\n")
    base, head = git(lib, "rev-parse", "v1"), git(lib, "rev-parse", "HEAD")

    event = Event("push", "refs/heads/main", head)
    wf = run(tmp_path, CHECKOUT, event, checkouts={"acme/app": lib, "acme/lib": lib}, env={"BASE": base})
    full = wf.job("full")
    assert full.result == "success", full.steps[2].log
    assert "2\n1\n" in full.steps[2].log and "VERSION | 2 +-" in full.steps[2].log
    assert full.steps[0].outputs["commit"] == head
    # fetch-depth 1 (the default): the base commit is not in the clone, as on GitHub.
    assert wf.job("shallow").result == "failure" and "bad object" in wf.job("shallow").steps[1].log
    assert "repository 'acme/nowhere'" in wf.job("missing").steps[0].log
    call = jsonl(tmp_path / "world" / "calls.jsonl")[1]
    assert call == {
        "tool": "uses:actions/checkout",
        "job": "full",
        "step": f"Run actions/checkout{PIN}",
        "with": {"repository": "acme/lib", "ref": "v1", "path": "deps/lib"},
    }


UPLOAD = f"""
on: push
jobs:
  job:
    runs-on: ubuntu-latest
    steps:
      - run: mkdir -p build/sub && echo a > build/a.json && echo b > build/sub/b.json
      - uses: actions/upload-artifact{PIN}
        with:
          name: report
          path: |
            build/a.json
            build/sub/b.json
          if-no-files-found: error
      - id: warn
        uses: actions/upload-artifact{PIN}
        with:
          name: nothing
          path: build/missing.txt
      - id: error
        uses: actions/upload-artifact{PIN}
        with:
          name: required
          path: build/missing.txt
          if-no-files-found: error
"""


def test_upload_artifact(tmp_path: Path) -> None:
    job = run(tmp_path, UPLOAD).job("job")
    report = tmp_path / "world" / "artifacts" / "report"
    assert sorted(str(p.relative_to(report)) for p in report.rglob("*.json")) == ["a.json", "sub/b.json"]
    assert job.step("warn").outcome == "success" and "No files were found" in job.step("warn").log
    assert job.step("error").outcome == "failure" and "No files were found" in job.step("error").log
    assert not (tmp_path / "world" / "artifacts" / "required").exists()


DOWNLOAD = f"""
on: push
jobs:
  make:
    runs-on: ubuntu-latest
    steps:
      - run: mkdir -p build/sub && echo a > build/a.json && echo b > build/sub/b.json
      - uses: actions/upload-artifact{PIN}
        with:
          name: report
          path: build
  take:
    needs: make
    runs-on: ubuntu-latest
    steps:
      - id: got
        uses: actions/download-artifact{PIN}
        with:
          name: report
          path: in
      - run: test "$(cat in/a.json in/sub/b.json)" = "$(printf 'a\\nb')"
      - id: missing
        uses: actions/download-artifact{PIN}
        with:
          name: never-uploaded
"""


def test_download_artifact_gets_what_this_run_uploaded(tmp_path: Path) -> None:
    job = run(tmp_path, DOWNLOAD).job("take")
    assert job.step("got").outcome == "success"
    assert job.steps[1].outcome == "success", job.steps[1].log
    assert "Artifact not found for name: never-uploaded" in job.step("missing").log


GITHUB_SCRIPT = f"""
on: push
jobs:
  job:
    runs-on: ubuntu-latest
    steps:
      - id: issue
        uses: actions/github-script{PIN}
        env:
          TITLE: Parity mismatch in ${{{{ github.ref_name }}}}
        with:
          script: |
            const {{ data }} = await github.rest.issues.create({{
              ...context.repo, title: process.env.TITLE, labels: ['incident'],
            }});
            const open = await github.rest.issues.listForRepo({{ ...context.repo }});
            core.setOutput('number', data.number);
            return open.data.length;
      - uses: actions/github-script{PIN}
        with:
          script: throw new Error('boom')
"""


@pytest.mark.skipif(shutil.which("node") is None and not os.environ.get("CI"), reason="node is not on PATH")
def test_github_script_records_api_calls(tmp_path: Path) -> None:
    (tmp_path / "world" / "github").mkdir(parents=True)
    responses = {"issues.create": {"number": 42, "html_url": "https://github.com/acme/app/issues/42"}}
    (tmp_path / "world" / "github" / "responses.json").write_text(json.dumps(responses))
    job = run(tmp_path, GITHUB_SCRIPT).job("job")
    assert job.step("issue").outputs == {"number": "42", "result": "0"}
    repo = {"owner": "acme", "repo": "app"}
    issue = {**repo, "title": "Parity mismatch in main", "labels": ["incident"]}
    assert jsonl(tmp_path / "world" / "github" / "calls.jsonl") == [
        {"method": "issues.create", "args": issue},
        {"method": "issues.listForRepo", "args": repo},
    ]
    assert job.steps[1].outcome == "failure" and "boom" in job.steps[1].log


SLACK = f"""
on: push
jobs:
  job:
    runs-on: ubuntu-latest
    steps:
      - id: strict
        uses: slackapi/slack-github-action{PIN}
        with:
          method: chat.postMessage
          token: ${{{{ secrets.SLACK_BOT_TOKEN }}}}
          errors: true
          payload: |
            channel: "#oncall"
            text: "deploy of ${{{{ github.sha }}}} failed"
      - id: lenient
        if: always()
        uses: slackapi/slack-github-action{PIN}
        with:
          method: chat.postMessage
          token: ${{{{ secrets.SLACK_BOT_TOKEN }}}}
          payload: |
            channel: "#platform"
            text: "hello"
"""


@pytest.mark.parametrize("fault", [False, True])
def test_slack_errors_input_decides_whether_an_api_error_fails_the_step(tmp_path: Path, fault: bool) -> None:
    if fault:
        (tmp_path / "world" / "faults").mkdir(parents=True)
        (tmp_path / "world" / "faults" / "slack").write_text("channel_not_found")
    job = run(tmp_path, SLACK, secrets={"SLACK_BOT_TOKEN": "xoxb-1"}).job("job")
    assert job.step("strict").outcome == ("failure" if fault else "success")
    assert job.step("lenient").outcome == "success"  # errors: false swallows the failure
    assert ("Failed to send the request" in job.step("lenient").log) is fault
    records = jsonl(tmp_path / "world" / "slack.jsonl")
    assert [r["payload"].splitlines()[0] for r in records] == ['channel: "#oncall"', 'channel: "#platform"']
    assert all(r["method"] == "chat.postMessage" and r["token_set"] for r in records)
    assert f"deploy of {ZEROS} failed" in records[0]["payload"]


def test_slack_without_a_token_fails_whatever_errors_says(tmp_path: Path) -> None:
    job = run(tmp_path, SLACK).job("job")
    assert [s.outcome for s in job.steps] == ["failure", "failure"]
    assert "A token must be provided" in job.step("lenient").log


def test_an_action_without_a_fake_fails(tmp_path: Path) -> None:
    text = f"""
on: push
jobs:
  job:
    runs-on: ubuntu-latest
    steps:
      - uses: someone/new-action{PIN}
"""
    job = run(tmp_path, text).job("job")
    assert job.result == "failure"
    assert "no fake for someone/new-action" in job.steps[0].log


SCAN = f"""
on: push
jobs:
  job:
    runs-on: ubuntu-latest
    steps:
      - id: build
        uses: docker/build-push-action{PIN}
        with:
          context: .
          file: Dockerfile
          push: true
          tags: registry/app:${{{{ github.sha }}}}
      - uses: aquasecurity/trivy-action{PIN}
        with:
          image-ref: registry/app@${{{{ steps.build.outputs.digest }}}}
          format: sarif
          output: trivy.sarif
          severity: CRITICAL
      - uses: aquasecurity/trivy-action{PIN}
        with:
          scan-type: fs
          scan-ref: .
          severity: CRITICAL
          exit-code: "1"
          format: table
"""
TRIVY_STUB = """\
echo "trivy $* severity=${TRIVY_SEVERITY:-} exit=${TRIVY_EXIT_CODE:-} format=${TRIVY_FORMAT:-}" \\
  >> "$GATE_HARNESS_WORLD/trivy.log"
exit "${TRIVY_EXIT_CODE:-0}"
"""
DOCKER_STUB = """\
echo "docker $*" >> "$GATE_HARNESS_WORLD/docker.log"
while [ $# -gt 0 ]; do
  case "$1" in
    --metadata-file) shift; echo '{"containerimage.digest": "sha256:abc"}' > "$1" ;;
    --iidfile) shift; echo sha256:id > "$1" ;;
  esac
  shift
done
"""


def test_trivy_and_build_push_run_the_cli_as_the_actions_do(tmp_path: Path) -> None:
    stub(tmp_path / "bin", "trivy", TRIVY_STUB)
    stub(tmp_path / "bin", "docker", DOCKER_STUB)
    job = run(tmp_path, SCAN, bin_dirs=[tmp_path / "bin"]).job("job")
    assert job.step("build").outputs["digest"] == "sha256:abc"
    assert job.step("build").outputs["imageid"] == "sha256:id"
    docker = (tmp_path / "world" / "docker.log").read_text().split()
    assert docker[:5] == ["docker", "buildx", "build", "--file", "Dockerfile"]
    assert docker[docker.index("--tag") + 1] == f"registry/app:{ZEROS}"
    assert docker[-2:] == ["--push", "."] and "--load" not in docker
    # The action passes its inputs as TRIVY_* variables; SARIF drops the severity filter.
    assert (tmp_path / "world" / "trivy.log").read_text().splitlines() == [
        "trivy image registry/app@sha256:abc severity= exit= format=sarif",
        "trivy fs . severity=CRITICAL exit=1 format=",
    ]
    assert [s.outcome for s in job.steps] == ["success", "success", "failure"]


AWS = f"""
on: push
permissions:
  contents: read
jobs:
  allowed:
    runs-on: ubuntu-latest
    permissions:
      id-token: write
    steps:
      - uses: aws-actions/configure-aws-credentials{PIN}
        with:
          role-to-assume: arn:aws:iam::123456789012:role/deploy
          aws-region: eu-west-1
      - run: echo "$AWS_REGION $AWS_ROLE_ARN"
  denied:
    runs-on: ubuntu-latest
    steps:
      - uses: aws-actions/configure-aws-credentials{PIN}
        with:
          role-to-assume: arn:aws:iam::123456789012:role/deploy
          aws-region: eu-west-1
"""


def test_configure_aws_credentials_needs_the_id_token_permission(tmp_path: Path) -> None:
    wf = run(tmp_path, AWS)
    assert "eu-west-1 arn:aws:iam::123456789012:role/deploy" in wf.job("allowed").steps[1].log
    assert wf.job("allowed").steps[0].outputs == {"aws-account-id": "123456789012"}
    assert wf.job("denied").result == "failure" and "id-token" in wf.job("denied").steps[0].log
