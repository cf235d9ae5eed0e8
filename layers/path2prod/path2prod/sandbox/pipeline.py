"""The local pipeline of one env: a push to `main` runs the commit's buildspec.yml.

It watches the bare repo's `refs/heads/main` rather than relying on a git hook, because a push made by
dulwich (path2prod's own promotions and rollbacks) runs no hooks: both kinds of push move the ref.
Each run is a CodePipeline execution (Source -> Build) started in the emulated CodePipeline, and every
state change is put on the account's default event bus in the shape AWS documents.

When the env's template pipeline has the Build stage's entry condition (the provenance gate), it runs
it between Source and Build (pipeline_gate.py): a failed condition fails the execution with no Build.

It also runs what others start through the API (StartPipelineExecution by the CLI or a function), as
CodePipeline would: the commit of a sourceRevisions override, else main's head, under the execution id
the API returned, with an execution-trigger naming the caller.
"""

from __future__ import annotations

import io
import json
import logging
import re
import shutil
import subprocess
import tarfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from path2prod.domain.time import format_time, utc_now
from path2prod.domain.vocabulary import EntryState
from path2prod.sandbox.buildspec import run_buildspec
from path2prod.sandbox.emulator import (
    OWN_START_TOKEN_PREFIX,
    RequestedExecution,
    backend_execution,
    has_requested_executions,
    set_execution_revision,
    set_execution_status,
    set_execution_trigger,
    take_requested_executions,
)
from path2prod.sandbox.home import write_json
from path2prod.sandbox.pipeline_gate import LocalGate

log = logging.getLogger("path2prod.sandbox.pipeline")

PIPELINE_EXECUTION = "CodePipeline Pipeline Execution State Change"
ACTION_EXECUTION = "CodePipeline Action Execution State Change"
POLL_SECONDS = 0.3


_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def read_main(repo: Path) -> str | None:
    """The sha `main` points at, or None while the repo has no main.

    Each env's pipeline asks every POLL_SECONDS, so it reads the files git and dulwich move a branch
    with, as git does (the loose ref first, else packed-refs) instead of starting `git rev-parse`: ten
    processes a second in an idle sandbox. Both write a loose ref to a lock file and rename it into
    place, and `git pack-refs` writes packed-refs before it deletes the loose ref, so a read never sees
    a half-written ref nor neither file. Anything else (a symbolic ref, a reftable repository) asks git.
    """
    try:
        loose: str | None = (repo / "refs" / "heads" / "main").read_text().strip()
    except FileNotFoundError:
        loose = None
    if loose is not None:
        return loose if _SHA.fullmatch(loose) else _rev_parse_main(repo)
    if (repo / "reftable").exists():
        return _rev_parse_main(repo)
    try:
        packed = (repo / "packed-refs").read_text()
    except FileNotFoundError:
        return None
    for line in packed.splitlines():
        sha, _, name = line.partition(" ")
        if name == "refs/heads/main":
            return sha if _SHA.fullmatch(sha) else _rev_parse_main(repo)
    return None


def _rev_parse_main(repo: Path) -> str | None:
    completed = subprocess.run(
        ["git", "--git-dir", str(repo), "rev-parse", "--verify", "--quiet", "refs/heads/main^{commit}"],
        capture_output=True,
        text=True,
        check=False,
    )
    return completed.stdout.strip() or None


class LocalPipeline(threading.Thread):
    """Runs one env's pipeline: one execution at a time, the newest `main` next (like SUPERSEDED mode)."""

    def __init__(
        self,
        *,
        env: str,
        account: str,
        region: str,
        name: str,
        repo: Path,
        work_dir: Path,
        logs_dir: Path,
        marks_file: Path,
        events_client: Any,
        codepipeline_client: Any,
        broken_flag: Path,
        build_environment: dict[str, str] | None = None,
        gate: LocalGate | None = None,
    ) -> None:
        """`build_environment`: the AWS_* variables a build gets (the sandbox's endpoint and
        credentials), as CodeBuild gives a build its service role's; nothing else of AWS reaches it.
        `gate`: the Build stage's entry condition, when the env's template pipeline has one."""
        super().__init__(name=f"pipeline-{env}", daemon=True)
        self.env, self.account, self.region, self.pipeline_name = env, account, region, name
        self.repo, self.work_dir, self.logs_dir, self.marks_file = repo, work_dir, logs_dir, marks_file
        self.events, self.codepipeline = events_client, codepipeline_client
        self.broken_flag = broken_flag
        self.build_environment = dict(build_environment or {})
        self.gate = gate
        self.arn = f"arn:aws:codepipeline:{region}:{account}:{name}"
        self.stopping = threading.Event()
        self.running_execution: str | None = None
        self.last_run = self._load_mark()
        self.executions = 0

    # -- state -----------------------------------------------------------------------------------------
    def _load_mark(self) -> str | None:
        try:
            marks: dict[str, str] = json.loads(self.marks_file.read_text())
        except (FileNotFoundError, ValueError):
            return None
        return marks.get(self.env)

    def _save_mark(self, sha: str) -> None:
        try:
            marks = json.loads(self.marks_file.read_text())
        except (FileNotFoundError, ValueError):
            marks = {}
        marks[self.env] = sha
        write_json(self.marks_file, marks)
        self.last_run = sha

    @property
    def busy(self) -> bool:
        """Running, an execution started through the API waits, or `main` moved to a commit not yet run."""
        if self.running_execution:
            return True
        if has_requested_executions(self.account, self.region, self.pipeline_name):
            return True
        head = read_main(self.repo)
        return head is not None and head != self.last_run

    # -- the loop --------------------------------------------------------------------------------------
    def run(self) -> None:
        while not self.stopping.is_set():
            for requested in take_requested_executions(self.account, self.region, self.pipeline_name):
                self._run_requested(requested)
            head = read_main(self.repo)
            if head and head != self.last_run:
                try:
                    self.run_execution(head)
                except Exception:
                    log.exception("pipeline %s: execution of %s crashed", self.env, head)
                    self.running_execution = None
                    self.stopping.wait(2)
                continue
            self.stopping.wait(POLL_SECONDS)

    def _run_requested(self, requested: RequestedExecution) -> None:
        """Run an execution someone started through the API: its override's commit, else main's head."""
        commit = requested.commit or read_main(self.repo)
        if commit is None:
            log.warning("pipeline %s: %s started with no commit on main", self.env, requested.execution_id)
            set_execution_status(self._backend(requested.execution_id), "Failed")
            return
        try:
            self.run_execution(
                commit,
                execution_id=requested.execution_id,
                trigger={"trigger-type": "StartPipelineExecution", "trigger-detail": requested.caller},
            )
        except Exception:
            log.exception("pipeline %s: execution %s of %s crashed", self.env, requested.execution_id, commit)
            self.running_execution = None

    def _backend(self, execution_id: str) -> Any:
        return backend_execution(self.account, self.region, self.pipeline_name, execution_id)

    def run_execution(
        self, commit: str, *, execution_id: str | None = None, trigger: dict[str, str] | None = None
    ) -> bool:
        """One execution of `commit`: Source, then Build. Returns True when it succeeded.

        Without `execution_id`, a move of main started it: the pipeline starts it in the emulated
        CodePipeline itself, with a request token that keeps it out of the queue of API starts.
        """
        if execution_id is None:
            execution_id = self.codepipeline.start_pipeline_execution(
                name=self.pipeline_name, clientRequestToken=f"{OWN_START_TOKEN_PREFIX}{uuid.uuid4()}"
            )["pipelineExecutionId"]
        self.running_execution = execution_id
        summary = self._git("log", "-1", "--format=%s", commit).strip()
        set_execution_revision(execution_id, commit, summary, f"file://{self.repo}")
        start_time = format_time(utc_now(), millis=True)
        log.info("pipeline %s: execution %s of %s", self.env, execution_id, commit)
        trigger = trigger or {
            "trigger-type": "CloudWatchEvent",
            "trigger-detail": f"arn:aws:events:{self.region}:{self.account}:rule/path2prod-push-to-main",
        }
        set_execution_trigger(execution_id, trigger["trigger-type"], trigger["trigger-detail"])
        self._pipeline_event(execution_id, start_time, EntryState.STARTED, {"execution-trigger": trigger})

        self._action_event(execution_id, start_time, "Source", "Source", "CodeCommit", EntryState.STARTED)
        self._action_event(
            execution_id,
            start_time,
            "Source",
            "Source",
            "CodeCommit",
            EntryState.SUCCEEDED,
            result={
                "external-execution-url": f"file://{self.repo}#{commit}",
                "external-execution-summary": summary,
                "external-execution-id": commit,
            },
        )

        succeeded = self._entry_condition_passes(execution_id, commit)
        if succeeded:
            succeeded = self._build_action(execution_id, start_time, commit)
        state = EntryState.SUCCEEDED if succeeded else EntryState.FAILED
        set_execution_status(self._backend(execution_id), "Succeeded" if succeeded else "Failed")
        self._pipeline_event(execution_id, start_time, state)
        if commit == read_main(self.repo):
            # main's head has run (whoever started it): a move of main to it needs no second run.
            self._save_mark(commit)
        self.executions += 1
        self.running_execution = None
        log.info("pipeline %s: execution %s %s", self.env, execution_id, state)
        return succeeded

    def _entry_condition_passes(self, execution_id: str, commit: str) -> bool:
        """The Build stage's BeforeEntry condition (the gate), when there is one; its latency is logged
        from the Source action's success to the job's result (docs/benchmarks.md)."""
        if self.gate is None:
            return True
        began = time.monotonic()
        outcome = self.gate.run(self.pipeline_name, execution_id, commit)
        log.info(
            "pipeline %s: entry condition of Build %s for %s in %.3f s: %s",
            self.env,
            "passed" if outcome.passed else "FAILED",
            execution_id,
            time.monotonic() - began,
            outcome.message,
        )
        return outcome.passed

    def _build_action(self, execution_id: str, start_time: str, commit: str) -> bool:
        build_id = f"{self.pipeline_name}-build:{uuid.uuid4()}"
        self._action_event(execution_id, start_time, "Build", "Build", "CodeBuild", EntryState.STARTED)
        succeeded, build_summary = self._build(commit, execution_id, build_id)
        result: dict[str, Any] = {
            "external-execution-url": f"file://{self.logs_dir / 'builds' / (execution_id + '.log')}",
            "external-execution-summary": build_summary,
            "external-execution-id": build_id,
        }
        if not succeeded:
            result["error-code"] = "JobFailed"
        state = EntryState.SUCCEEDED if succeeded else EntryState.FAILED
        self._action_event(execution_id, start_time, "Build", "Build", "CodeBuild", state, result=result)
        return succeeded

    # -- build -----------------------------------------------------------------------------------------
    def _build(self, commit: str, execution_id: str, build_id: str) -> tuple[bool, str]:
        if self.broken_flag.exists():
            log_path = self.logs_dir / "builds" / f"{execution_id}.log"
            log_path.parent.mkdir(parents=True, exist_ok=True)
            log_path.write_text("[path2prod] simulated outage (path2prod local break): the build fails\n")
            return False, "simulated outage (path2prod local break)"
        source = self.work_dir / execution_id
        try:
            source.mkdir(parents=True, exist_ok=True)
            archive = subprocess.run(
                ["git", "--git-dir", str(self.repo), "archive", "--format=tar", commit],
                capture_output=True,
                check=True,
            ).stdout
            with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
                tar.extractall(source, filter="data")
            result = run_buildspec(
                source,
                {
                    **self.build_environment,
                    "PATH2PROD_ENV": self.env,
                    "CODEBUILD_RESOLVED_SOURCE_VERSION": commit,
                    "CODEBUILD_BUILD_ID": build_id,
                    "CODEBUILD_INITIATOR": f"codepipeline/{self.pipeline_name}",
                },
                self.logs_dir / "builds" / f"{execution_id}.log",
            )
            return result.succeeded, result.summary
        finally:
            shutil.rmtree(source, ignore_errors=True)

    def _git(self, *args: str) -> str:
        return subprocess.run(
            ["git", "--git-dir", str(self.repo), *args], capture_output=True, text=True, check=True
        ).stdout

    # -- events ----------------------------------------------------------------------------------------
    def _pipeline_event(
        self, execution_id: str, start_time: str, state: str, extra: dict[str, Any] | None = None
    ) -> None:
        detail = {
            "pipeline": self.pipeline_name,
            "execution-id": execution_id,
            "start-time": start_time,
            **(extra or {}),
            "state": state,
            "version": 1.0,
            "pipeline-execution-attempt": 1.0,
        }
        self._put(PIPELINE_EXECUTION, detail)

    def _action_event(
        self,
        execution_id: str,
        start_time: str,
        stage: str,
        action: str,
        provider: str,
        state: str,
        result: dict[str, Any] | None = None,
    ) -> None:
        category = "Source" if stage == "Source" else "Build"
        detail: dict[str, Any] = {
            "pipeline": self.pipeline_name,
            "execution-id": execution_id,
            "start-time": start_time,
            "stage": stage,
            "action-execution-id": str(uuid.uuid4()),
            "action": action,
            "state": state,
            "region": self.region,
            "type": {"owner": "AWS", "provider": provider, "category": category, "version": "1"},
            "version": 1.0,
            "pipeline-execution-attempt": 1.0,
        }
        if result is not None:
            detail["execution-result"] = result
        self._put(ACTION_EXECUTION, detail)

    def _put(self, detail_type: str, detail: dict[str, Any]) -> None:
        response = self.events.put_events(
            Entries=[
                {
                    "Source": "aws.codepipeline",
                    "DetailType": detail_type,
                    "Detail": json.dumps(detail),
                    "Resources": [self.arn],
                    "Time": utc_now().replace(microsecond=0),
                }
            ]
        )
        if response.get("FailedEntryCount"):
            raise RuntimeError(f"EventBridge refused a pipeline event: {response['Entries']}")
