"""The sandbox daemon: emulated accounts, local pipelines and Lambda runtimes, in the background.

Started by `path2prod local up` as `python -m path2prod.sandbox.daemon --home DIR`; stopped by SIGTERM
(`path2prod local down`), after which every piece of state is on disk for the next start.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3

from path2prod import ENVS
from path2prod.sandbox.emulator import Emulator, Snapshots, enforce_bus_policies, enforce_iam
from path2prod.sandbox.functions import FUNCTIONS, SandboxFunction
from path2prod.sandbox.home import (
    SANDBOX_ROLE,
    SandboxConfig,
    SandboxHome,
    free_port,
    sandbox_credentials_env,
    write_json,
)
from path2prod.sandbox.pipeline import LocalPipeline
from path2prod.sandbox.roles import (
    BOOTSTRAP_ACCESS_KEYS,
    OPERATOR_POLICY,
    StackNames,
    function_policy,
    lambda_trust_policy,
    operator_trust_policy,
    role_definition,
)
from path2prod.sandbox.template import load_template, table_definition

log = logging.getLogger("path2prod.sandbox")
SIGNING_SECRET_NAME = "path2prod-approval-signing-key"  # noqa: S105 - a name, not the key
APPROVALS_TOPIC = "path2prod-approvals"
SNAPSHOT_SECONDS = 1.0
MAX_RECEIVES = 5  # a function's failing event is retried, then dead-lettered, as with Lambda


class Account:
    """One emulated account: its root (the sandbox's bootstrap key, as CloudFormation acts for a stack)
    creates the operator role the sandbox provisions with, and the roles each function runs under."""

    def __init__(self, env: str, account_id: str, config: SandboxConfig, endpoint: str) -> None:
        self.env, self.account_id, self.region, self.endpoint = env, account_id, config.region, endpoint
        iam = self.root_client("iam")
        iam.create_role(RoleName=SANDBOX_ROLE, AssumeRolePolicyDocument=operator_trust_policy(account_id))
        iam.put_role_policy(
            RoleName=SANDBOX_ROLE, PolicyName="sandbox-operator", PolicyDocument=json.dumps(OPERATOR_POLICY)
        )
        self.credentials = self.assume(SANDBOX_ROLE, "sandbox")

    def root_client(self, service: str) -> Any:
        """A client acting as this account's root: signed with a bootstrap key, which moto lets through."""
        client = boto3.client(
            service, endpoint_url=self.endpoint, region_name=self.region, **_dummy_credentials()
        )  # type: ignore[call-overload]

        def in_this_account(request: Any, **_: Any) -> None:
            request.headers["x-moto-account-id"] = self.account_id

        client.meta.events.register("before-sign.*.*", in_this_account)
        return client

    def assume(self, role_name: str, session: str) -> dict[str, Any]:
        """Credentials of one of this account's roles. Assumed by the root, as Lambda's service assumes
        a function's role (moto cannot evaluate a trust policy that names a service principal)."""
        credentials: dict[str, Any] = self.root_client("sts").assume_role(
            RoleArn=f"arn:aws:iam::{self.account_id}:role/{role_name}",
            RoleSessionName=session[:64],
            DurationSeconds=43200,
        )["Credentials"]
        return credentials

    def client(self, service: str) -> Any:
        return boto3.client(  # type: ignore[call-overload]
            service,
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id=self.credentials["AccessKeyId"],
            aws_secret_access_key=self.credentials["SecretAccessKey"],
            aws_session_token=self.credentials["SessionToken"],
        )

    def aws_environment(self, credentials: dict[str, Any] | None = None) -> dict[str, str]:
        """The AWS_* variables of a process acting in this account: the sandbox's endpoint, region and
        the given credentials (default: the operator's). Nothing of the caller's AWS set-up: no
        profile, no config or credentials file, no instance metadata."""
        credentials = credentials or self.credentials
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
            "AWS_SESSION_TOKEN": credentials["SessionToken"],
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        }


def without_aws_settings(environment: dict[str, str] | os._Environ[str]) -> dict[str, str]:
    """The environment minus every AWS_* variable: the caller's profile and keys stay out."""
    return {key: value for key, value in environment.items() if not key.startswith("AWS_")}


def function_role_name(env: str, function: SandboxFunction) -> str:
    return f"path2prod-{env}-{function.name}"


def _dummy_credentials() -> dict[str, str]:
    creds = sandbox_credentials_env()
    return {
        "aws_access_key_id": creds["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": creds["AWS_SECRET_ACCESS_KEY"],
        "aws_session_token": creds["AWS_SESSION_TOKEN"],
    }


class Sandbox:
    def __init__(self, home: SandboxHome) -> None:
        self.home = home
        self.config = home.load_config()
        self.endpoint = home.aws_endpoint_url(self.config)
        self.emulator = Emulator(self.config.aws_port)
        self.snapshots = Snapshots(home.data_dir, self.config.region)
        self.accounts: dict[str, Account] = {}
        self.s3: dict[str, Any] = {}
        self.topics: dict[str, str] = {}
        self.approval_topics: dict[str, str] = {}
        self.signing_secrets: dict[str, str] = {}  # env -> the secret's ARN (its Ref in AWS)
        # mailbox queue -> (env, recipient): SNS email subscriptions land in these queues here.
        self.mailboxes: dict[str, tuple[str, str]] = {}
        self.page_ports: dict[str, int] = {}
        self.approvals_front: ThreadingHTTPServer | None = None
        self.pipelines: dict[str, LocalPipeline] = {}
        self.queues: dict[tuple[str, str], str] = {}
        self.runtimes: dict[tuple[str, str], subprocess.Popen[bytes]] = {}
        self.control: ThreadingHTTPServer | None = None
        self.stopping = threading.Event()

    # -- start -----------------------------------------------------------------------------------------
    def start(self) -> None:
        enforce_iam(BOOTSTRAP_ACCESS_KEYS)
        enforce_bus_policies()
        self.emulator.start()
        load_template()  # fail early, before anything runs, if the template cannot be read
        for env in ENVS:
            account = Account(env, self.config.accounts[env], self.config, self.endpoint)
            self.accounts[env] = account
            self._ensure_repo(env)
            self._provision(env, account)
        for env in ENVS:
            self._forward_successes(env)
        for env in ENVS:
            self._create_roles(env)
        for env in ENVS:
            for function in FUNCTIONS:
                if function.runs_in(env):
                    self._start_runtime(env, function)
        self._start_approvals_front()
        self._wait_for_pages()
        for env in ENVS:
            account = self.accounts[env]
            pipeline = LocalPipeline(
                env=env,
                account=account.account_id,
                region=self.config.region,
                name=self.config.pipeline,
                repo=self.home.repo(env),
                work_dir=self.home.work_dir(env),
                logs_dir=self.home.logs_dir,
                marks_file=self.home.data_dir / "pipelines.json",
                broken_flag=self.home.broken_flag(env),
                events_client=account.client("events"),
                codepipeline_client=account.client("codepipeline"),
                build_environment=account.aws_environment(),
            )
            self.pipelines[env] = pipeline
            pipeline.start()
        self._start_control()
        self.home.write_daemon_state(
            {
                "pid": os.getpid(),
                "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "aws_endpoint_url": self.endpoint,
                "control_url": self.home.control_url(self.config),
            }
        )
        log.info("sandbox ready at %s", self.endpoint)

    def _ensure_repo(self, env: str) -> None:
        repo = self.home.repo(env)
        if not (repo / "HEAD").is_file():
            repo.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                ["git", "init", "--quiet", "--bare", "--initial-branch=main", str(repo)], check=True
            )

    def _provision(self, env: str, account: Account) -> None:
        """Create in env's account what its stack would: the ledger, the pipeline, the rules."""
        table = self.config.ledger_table(env)
        dynamodb = account.client("dynamodb")
        dynamodb.create_table(**table_definition(table_name=table))
        restored = self.snapshots.restore(account.account_id, table, dynamodb)
        log.info("%s: ledger %s ready (%d items restored)", env, table, restored)

        bucket = self.config.checkpoint_bucket(env)
        s3 = self.s3[env] = account.client("s3")
        s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
        s3.put_object_lock_configuration(
            Bucket=bucket,
            ObjectLockConfiguration={
                "ObjectLockEnabled": "Enabled",
                "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 1}},
            },
        )
        restored_checkpoints = self.snapshots.restore_objects(account.account_id, bucket, s3)
        log.info(
            "%s: checkpoint bucket %s ready (%d checkpoints restored)", env, bucket, restored_checkpoints
        )

        sns = account.client("sns")
        topic = self.topics[env] = sns.create_topic(Name="path2prod-alerts")["TopicArn"]
        self._subscribe_mailbox(env, account, topic, self.config.alert_email, "mailbox")
        if self.config.upstream(env):
            self._provision_approvals(env, account)

        create_pipeline(
            account.client("iam"), account.client("codepipeline"), self.config.pipeline, account.account_id
        )

        sqs, events = account.client("sqs"), account.client("events")
        for function in FUNCTIONS:
            if function.function_url or not function.runs_in(env):
                continue
            dead_letters = sqs.create_queue(QueueName=f"{function.name}-dead-letters")["QueueUrl"]
            dead_letters_arn = sqs.get_queue_attributes(QueueUrl=dead_letters, AttributeNames=["QueueArn"])[
                "Attributes"
            ]["QueueArn"]
            queue = sqs.create_queue(
                QueueName=f"{function.name}-events",
                Attributes={
                    "VisibilityTimeout": "30",
                    "RedrivePolicy": json.dumps(
                        {"deadLetterTargetArn": dead_letters_arn, "maxReceiveCount": str(MAX_RECEIVES)}
                    ),
                },
            )["QueueUrl"]
            queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            self.queues[(env, function.name)] = queue
            for rule_event, pattern in function.rule_patterns(self._refs(env)).items():
                rule = f"path2prod-{function.name}-{rule_event}"
                events.put_rule(Name=rule, EventPattern=json.dumps(pattern))
                events.put_targets(Rule=rule, Targets=[{"Id": function.name, "Arn": queue_arn}])

    def _subscribe_mailbox(self, env: str, account: Account, topic: str, recipient: str, queue: str) -> None:
        """SNS cannot send email here: an email subscription becomes a mailbox queue for `recipient`,
        with the same filter policy the template gives the subscription."""
        sqs, sns = account.client("sqs"), account.client("sns")
        mailbox = sqs.create_queue(QueueName=queue)["QueueUrl"]
        self.mailboxes[mailbox] = (env, recipient)
        mailbox_arn = sqs.get_queue_attributes(QueueUrl=mailbox, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        attributes = {}
        if topic == self.approval_topics.get(env):
            # template.yaml's ApproverSubscriptions: each approver's inbox holds only their own link.
            attributes = {
                "FilterPolicyScope": "MessageAttributes",
                "FilterPolicy": json.dumps({"approver": [recipient]}),
            }
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=mailbox_arn, Attributes=attributes)

    def _provision_approvals(self, env: str, account: Account) -> None:
        """What a downstream stack adds: the link-signing secret, the approvals topic and the
        approvers' subscriptions, and the bus policy that lets the upstream account forward."""
        self.signing_secrets[env] = account.client("secretsmanager").create_secret(
            Name=SIGNING_SECRET_NAME, SecretString=self._key(env)
        )["ARN"]
        sns = account.client("sns")
        self.approval_topics[env] = sns.create_topic(Name=APPROVALS_TOPIC)["TopicArn"]
        for number, approver in enumerate(self.config.approvers.get(env, [])):
            self._subscribe_mailbox(env, account, self.approval_topics[env], approver, f"approver-{number}")
        if self.config.upstream(env) is None:  # dev: nothing upstream forwards to it
            return
        # template.yaml's UpstreamMayForward, as written: the emulator delivers what it allows.
        bus_policy = load_template()["Resources"].get("UpstreamMayForward")
        if bus_policy is None:
            log.warning("%s: template.yaml has no UpstreamMayForward: nothing can be forwarded here", env)
            return
        properties = self._names(env).resolve(bus_policy["Properties"])
        statement = {"Sid": properties["StatementId"], **properties["Statement"]}
        account.client("events").put_permission(
            EventBusName=properties.get("EventBusName", "default"),
            Policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
        )

    def _key(self, env: str) -> str:
        """env's signing key: made once per sandbox and kept, so mailed links outlive a restart."""
        path = self.home.signing_keys_file
        keys: dict[str, str] = json.loads(path.read_text()) if path.is_file() else {}
        if env not in keys:
            keys[env] = secrets.token_urlsafe(48)
            write_json(path, keys)
        return keys[env]

    def _forward_successes(self, env: str) -> None:
        """template.yaml's ForwardSucceededRule: env's successes go to the next account's bus."""
        index = ENVS.index(env)
        if index + 1 >= len(ENVS):
            return
        names = self._names(env)
        properties = load_template()["Resources"]["ForwardSucceededRule"]["Properties"]
        pattern = names.resolve(properties["EventPattern"])
        # The template's target as written: the next account's bus, put on with the forwarding role.
        target = {
            key: value
            for key, value in names.resolve(properties["Targets"][0]).items()
            if key in ("Id", "Arn", "RoleArn")
        }
        events = self.accounts[env].client("events")
        events.put_rule(Name="path2prod-forward-succeeded", EventPattern=json.dumps(pattern))
        events.put_targets(Rule="path2prod-forward-succeeded", Targets=[target])

    def _names(self, env: str) -> StackNames:
        """What template.yaml's names resolve to in env's sandbox account."""
        parameters = {"Environment": env, "PipelineName": self.config.pipeline}
        physical = {
            "LedgerTable": self.config.ledger_table(env),
            "CheckpointBucket": self.config.checkpoint_bucket(env),
            "AlertsTopic": self.topics[env],
        }
        index = ENVS.index(env)
        if index + 1 < len(ENVS):
            parameters["NextAccountId"] = self.config.accounts[ENVS[index + 1]]
        if upstream := self.config.upstream(env):
            parameters.update(
                PreviousAccountId=self.config.accounts[upstream],
                Approvers=",".join(self.config.approvers.get(env, [])),
                ApprovalQuorum=str(self.config.quorum.get(env, 1)),
            )
            physical.update(
                ApprovalSigningSecret=self.signing_secrets[env], ApprovalsTopic=self.approval_topics[env]
            )
        return StackNames(
            env=env,
            account=self.config.accounts[env],
            region=self.config.region,
            parameters=parameters,
            physical=physical,
        )

    def _refs(self, env: str) -> dict[str, str]:
        """What template.yaml's Refs resolve to in env's sandbox account."""
        return self._names(env).parameters

    def _create_roles(self, env: str) -> None:
        """env's roles as its stack creates them: one per function, from its Policies in the template,
        and the role the next account's promoter assumes to read this env's commits."""
        names = self._names(env)
        iam = self.accounts[env].client("iam")
        for function in FUNCTIONS:
            if not function.runs_in(env):
                continue
            role = function_role_name(env, function)
            iam.create_role(RoleName=role, AssumeRolePolicyDocument=lambda_trust_policy())
            iam.put_role_policy(
                RoleName=role,
                PolicyName="template-policies",
                PolicyDocument=json.dumps(function_policy(function.logical_id, names)),
            )
        for logical_id in ("PromotionSourceRole", "ForwardSucceededRole"):
            source = role_definition(logical_id, names)
            if source is None:
                continue
            iam.create_role(
                RoleName=source["RoleName"],
                AssumeRolePolicyDocument=json.dumps(source["AssumeRolePolicyDocument"]),
            )
            for policy_name, document in source["Policies"].items():
                iam.put_role_policy(
                    RoleName=source["RoleName"], PolicyName=policy_name, PolicyDocument=json.dumps(document)
                )
        log.info("%s: roles created from template.yaml's policies", env)

    def _overrides(self, env: str, function: SandboxFunction) -> dict[str, str]:
        """Settings whose AWS value has no meaning here: repositories are local bare repositories,
        the page is served on 127.0.0.1, and the !Join / !Sub / !GetAtt values are stated here."""
        upstream = self.config.upstream(env)
        if function.name == "rollback":
            # The template's AutoRollback=auto: on for stg and prd, off for dev.
            return {
                "REPOSITORY_URL": str(self.home.repo(env)),
                "AUTO_ROLLBACK": "false" if env == "dev" else "true",
            }
        if upstream is None:
            return {}
        # UPSTREAM_READ_ROLE_ARN keeps the template's value: the upstream account's promotion-source
        # role, which _create_roles made there, and which the function's own role may assume.
        if function.name == "approvals":
            return {
                "APPROVERS": ",".join(self.config.approvers.get(env, [])),
                "APPROVAL_PAGE_URL": self.config.approvals_url(env),
                "REPOSITORY_URL": str(self.home.repo(env)),
                "UPSTREAM_REPOSITORY_URL": str(self.home.repo(upstream)),
            }
        if function.name == "promoter":
            return {
                "REPOSITORY_URL": str(self.home.repo(env)),
                "UPSTREAM_REPOSITORY_URL": str(self.home.repo(upstream)),
            }
        return {}

    def _start_runtime(self, env: str, function: SandboxFunction) -> None:
        """Run env's function under its own role's credentials; the runtime's own SQS polling (Lambda's
        event source mapping) keeps the operator's, passed apart and removed before the handler loads."""
        account = self.accounts[env]
        name = function_role_name(env, function)
        names = self._names(env)
        environment = {
            **{k: v for k, v in without_aws_settings(os.environ).items() if not k.startswith("POWERTOOLS_")},
            **function.environment(
                names.parameters,
                self._overrides(env, function),
                attributes=names.attributes,
                conditions=names.conditions,
            ),
            **account.aws_environment(account.assume(name, name)),
            **{f"SANDBOX_POLLER_{key}": value for key, value in account.aws_environment().items()},
            "SANDBOX_ACCOUNT_ID": account.account_id,
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon here
            "PYTHONUNBUFFERED": "1",
        }
        log_file = (self.home.logs_dir / f"{env}-{function.name}.log").open("ab")
        if function.function_url:
            port = self.page_ports.setdefault(env, free_port(avoid=self._ports_in_use()))
            runtime = ["path2prod.sandbox.function_url", str(function.code_dir), function.handler, str(port)]
        else:
            runtime = [
                "path2prod.sandbox.lambda_runtime",
                str(function.code_dir),
                function.handler,
                self.queues[(env, function.name)],
            ]
        self.runtimes[(env, function.name)] = subprocess.Popen(
            [sys.executable, "-m", *runtime],
            env=environment,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=function.code_dir,
        )

    def _wait_for_pages(self, timeout: float = 60.0) -> None:
        """Ready means a link opens: wait until every approval page's server accepts connections."""
        deadline = time.monotonic() + timeout
        for env, port in self.page_ports.items():
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"the {env} approval page did not start (see its log)") from None
                    time.sleep(0.1)

    def _ports_in_use(self) -> set[int]:
        config = self.config
        return {config.aws_port, config.control_port, config.approvals_port, *self.page_ports.values()}

    def _start_approvals_front(self) -> None:
        """The approval pages on one port: /stg/... and /prd/... reach that env's page (its Function
        URL in AWS), with the prefix removed, as the function sees its own URL's path."""
        ports = self.page_ports

        class Front(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self) -> None:
                env, _, rest = self.path.lstrip("/").partition("/")
                if env not in ports:
                    self.send_error(404, "no approval page here: the paths are /stg/ and /prd/")
                    return
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                request = urllib.request.Request(
                    f"http://127.0.0.1:{ports[env]}/{rest}", data=body, headers=headers, method=self.command
                )
                try:
                    response = urllib.request.urlopen(request, timeout=60)  # noqa: S310 - our 127.0.0.1
                except urllib.error.HTTPError as error:
                    response = error
                except OSError as error:
                    self.send_error(502, f"the {env} approval page does not answer: {error}")
                    return
                with response:
                    payload = response.read()
                    self.send_response(response.status)
                    for key, value in response.headers.items():
                        if key.lower() not in (
                            "connection",
                            "transfer-encoding",
                            "content-length",
                            "date",
                            "server",
                        ):
                            self.send_header(key, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(payload)

            do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = do_PATCH = _forward

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.approvals_front = ThreadingHTTPServer(("127.0.0.1", self.config.approvals_port), Front)
        threading.Thread(target=self.approvals_front.serve_forever, name="approvals", daemon=True).start()

    # -- running ---------------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        pending = {}
        for (env, name), queue in self.queues.items():
            attributes = (
                self.accounts[env]
                .client("sqs")
                .get_queue_attributes(
                    QueueUrl=queue,
                    AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
                )["Attributes"]
            )
            pending[f"{env}/{name}"] = sum(int(value) for value in attributes.values())
        pipelines = {
            env: {
                "busy": pipeline.busy,
                "running_execution": pipeline.running_execution,
                "last_run": pipeline.last_run,
            }
            for env, pipeline in self.pipelines.items()
        }
        idle = not any(p["busy"] for p in pipelines.values()) and not any(pending.values())
        return {"idle": idle, "pipelines": pipelines, "pending_events": pending}

    def serve(self) -> None:
        last_run: dict[tuple[str, str], float] = {}
        while not self.stopping.wait(SNAPSHOT_SECONDS):
            self.save_tables()
            self._run_schedules(last_run)
            self._deliver_mail()
            for (env, name), process in list(self.runtimes.items()):
                if process.poll() is not None:
                    log.warning("%s/%s runtime exited with %s; restarting it", env, name, process.returncode)
                    self._start_runtime(env, next(f for f in FUNCTIONS if f.name == name))

    def _run_schedules(self, last_run: dict[tuple[str, str], float]) -> None:
        """EventBridge Scheduler's part: a scheduled event for each due function (moto fires none)."""
        now = time.monotonic()
        for function in FUNCTIONS:
            if function.every_seconds is None:
                continue
            for env, account in self.accounts.items():
                if not function.runs_in(env):
                    continue
                if now - last_run.get((env, function.name), 0.0) < function.every_seconds:
                    continue
                last_run[(env, function.name)] = now
                event = {
                    "version": "0",
                    "id": str(uuid.uuid4()),
                    "detail-type": "Scheduled Event",
                    "source": "aws.scheduler",
                    "account": account.account_id,
                    "time": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
                    "region": self.config.region,
                    "resources": [
                        f"arn:aws:scheduler:{self.config.region}:{account.account_id}:schedule/{function.name}"
                    ],
                    "detail": {},
                }
                account.client("sqs").send_message(
                    QueueUrl=self.queues[(env, function.name)], MessageBody=json.dumps(event)
                )

    def _deliver_mail(self) -> None:
        """Move what SNS put in each mailbox queue to HOME/mail.jsonl, as the email would arrive."""
        for queue, (env, recipient) in self.mailboxes.items():
            sqs = self.accounts[env].client("sqs")
            messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
            for message in messages:
                notification = json.loads(message["Body"])
                mail = {
                    "env": env,
                    "to": recipient,
                    "subject": notification.get("Subject") or "",
                    "body": notification.get("Message", ""),
                    "time": notification.get("Timestamp") or datetime.now(UTC).isoformat(timespec="seconds"),
                }
                with self.home.mail_file.open("a") as mailbox:
                    mailbox.write(json.dumps(mail, sort_keys=True) + "\n")
                sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])

    def save_tables(self) -> None:
        for env, account in self.accounts.items():
            self.snapshots.save(account.account_id, self.config.ledger_table(env))
            self.snapshots.save_objects(account.account_id, self.config.checkpoint_bucket(env), self.s3[env])

    def stop(self) -> None:
        log.info("stopping")
        for pipeline in self.pipelines.values():
            pipeline.stopping.set()
        for pipeline in self.pipelines.values():
            pipeline.join(timeout=60)
        for process in self.runtimes.values():
            process.terminate()
        for process in self.runtimes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        self.save_tables()
        if self.control:
            self.control.shutdown()
        if self.approvals_front:
            self.approvals_front.shutdown()
        self.emulator.stop()
        self.home.clear_daemon_state()
        log.info("stopped; state kept in %s", self.home.path)

    def _start_control(self) -> None:
        sandbox = self

        class ControlHandler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path != "/status":
                    self.send_error(404)
                    return
                body = json.dumps(sandbox.status()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.control = ThreadingHTTPServer(("127.0.0.1", self.config.control_port), ControlHandler)
        threading.Thread(target=self.control.serve_forever, name="control", daemon=True).start()


def create_pipeline(iam: Any, codepipeline: Any, pipeline: str, account_id: str) -> None:
    """Create in moto the pipeline template.yaml creates, with the role CodePipeline assumes."""
    iam.create_role(
        RoleName="path2prod-pipeline",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "codepipeline.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )
    codepipeline.create_pipeline(pipeline=_pipeline_definition(pipeline, account_id))


def _pipeline_definition(pipeline: str, account_id: str) -> dict[str, Any]:
    """The pipeline template.yaml creates (Source on main -> Build), as CreatePipeline takes it."""
    return {
        "name": pipeline,
        "pipelineType": "V2",
        "executionMode": "SUPERSEDED",
        "roleArn": f"arn:aws:iam::{account_id}:role/path2prod-pipeline",
        "artifactStore": {"type": "S3", "location": f"path2prod-artifacts-{account_id}"},
        "stages": [
            {
                "name": "Source",
                "actions": [
                    {
                        "name": "Source",
                        "actionTypeId": {
                            "category": "Source",
                            "owner": "AWS",
                            "provider": "CodeCommit",
                            "version": "1",
                        },
                        "configuration": {"RepositoryName": pipeline, "BranchName": "main"},
                        "outputArtifacts": [{"name": "SourceArtifact"}],
                    }
                ],
            },
            {
                "name": "Build",
                "actions": [
                    {
                        "name": "Build",
                        "actionTypeId": {
                            "category": "Build",
                            "owner": "AWS",
                            "provider": "CodeBuild",
                            "version": "1",
                        },
                        "configuration": {"ProjectName": f"{pipeline}-build"},
                        "inputArtifacts": [{"name": "SourceArtifact"}],
                    }
                ],
            },
        ],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="path2prod-sandbox-daemon")
    parser.add_argument("--home", required=True)
    args = parser.parse_args(argv)
    home = SandboxHome(args.home)
    home.logs_dir.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        filename=home.logs_dir / "daemon.log",
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    sandbox = Sandbox(home)
    signal.signal(signal.SIGTERM, lambda *_: sandbox.stopping.set())
    signal.signal(signal.SIGINT, lambda *_: sandbox.stopping.set())
    try:
        sandbox.start()
        sandbox.serve()
    except Exception:
        log.exception("sandbox failed")
        raise
    finally:
        sandbox.stop()


if __name__ == "__main__":
    main()
