"""Provisioning: what each account's stack creates, built in moto from template.yaml.

The ledger table, the checkpoint bucket (both restored from the last snapshot), the alerts and
approvals topics with their mailboxes, the signing secret, the pipeline, the bake alarms, one queue
and rule per function, the forwarding rule to the next account, and the roles each function runs under.
"""

from __future__ import annotations

import json
import logging
import secrets
import subprocess
from typing import Any

from path2prod import ENVS
from path2prod.sandbox.accounts import Account, function_role_name
from path2prod.sandbox.alarms import create_alarms
from path2prod.sandbox.dead_letters import QUEUE_NAME as DEAD_LETTER_QUEUE
from path2prod.sandbox.functions import FUNCTIONS
from path2prod.sandbox.home import SandboxConfig, SandboxHome, write_json
from path2prod.sandbox.roles import StackNames, function_policy, lambda_trust_policy, role_definition
from path2prod.sandbox.snapshots import Snapshots
from path2prod.sandbox.template import load_template, rule_state, table_definition

log = logging.getLogger("path2prod.sandbox")
SIGNING_SECRET_NAME = "path2prod-approval-signing-key"  # noqa: S105 - a name, not the key
APPROVALS_TOPIC = "path2prod-approvals"


class Provisioning:
    """The three accounts as their stacks leave them, and the names of what was created in each."""

    def __init__(self, home: SandboxHome, config: SandboxConfig, endpoint: str, snapshots: Snapshots) -> None:
        self.home, self.config, self.endpoint, self.snapshots = home, config, endpoint, snapshots
        self.accounts: dict[str, Account] = {}
        self.s3: dict[str, Any] = {}
        self.topics: dict[str, str] = {}
        self.approval_topics: dict[str, str] = {}
        self.signing_secrets: dict[str, str] = {}  # env -> the secret's ARN (its Ref in AWS)
        # mailbox queue -> (env, recipient): SNS email subscriptions land in these queues here.
        self.mailboxes: dict[str, tuple[str, str]] = {}
        self.queues: dict[tuple[str, str], str] = {}  # (env, function) -> the queue its rules feed
        self.dead_letter_queues: dict[str, str] = {}  # env -> its stack's dead-letter queue

    def provision(self) -> None:
        """Every account's resources, then the rules between accounts, then the functions' roles."""
        for env in ENVS:
            account = Account(env, self.config.accounts[env], self.config, self.endpoint)
            self.accounts[env] = account
            self._ensure_repo(env)
            self._provision(env, account)
        for env in ENVS:
            self._forward_successes(env)
        for env in ENVS:
            self._create_roles(env)

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

        # The alarms BakeAlarmNames names exist in the account already (the stack does not create them).
        create_alarms(account.client("cloudwatch"), env, self.config.bake_alarms.get(env, []))

        sqs, events = account.client("sqs"), account.client("events")
        # The stack's one dead-letter queue (RecorderDeadLetterQueue): runtimes park what they gave up on.
        self.dead_letter_queues[env] = sqs.create_queue(QueueName=DEAD_LETTER_QUEUE)["QueueUrl"]
        for function in FUNCTIONS:
            if function.function_url or not function.runs_in(env):
                continue
            queue = sqs.create_queue(
                QueueName=f"{function.name}-events", Attributes={"VisibilityTimeout": "30"}
            )["QueueUrl"]
            queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            self.queues[(env, function.name)] = queue
            for rule_event, pattern in function.rule_patterns(self._refs(env)).items():
                if rule_state(function.logical_id, rule_event, self.names(env).resolve) == "DISABLED":
                    continue  # moto would deliver through a disabled rule: none is created
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
        properties = self.names(env).resolve(bus_policy["Properties"])
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
        names = self.names(env)
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

    def names(self, env: str) -> StackNames:
        """What template.yaml's names resolve to in env's sandbox account."""
        parameters = {
            "Environment": env,
            "PipelineName": self.config.pipeline,
            "BakeMinutes": str(self.config.bake_minutes.get(env, 0)),
            "BakeAlarmNames": ",".join(self.config.bake_alarms.get(env, [])),
        }
        physical = {
            "LedgerTable": self.config.ledger_table(env),
            "CheckpointBucket": self.config.checkpoint_bucket(env),
            "AlertsTopic": self.topics[env],
        }
        if env in self.dead_letter_queues:
            # The stack's RecorderDeadLetterQueue: its Ref (DEAD_LETTER_QUEUE_URL) and ARN (the roles'
            # sqs:SendMessage) name the sandbox's one queue.
            physical["RecorderDeadLetterQueue"] = self.dead_letter_queues[env]
        index = ENVS.index(env)
        if index + 1 < len(ENVS):
            parameters["NextAccountId"] = self.config.accounts[ENVS[index + 1]]
        if upstream := self.config.upstream(env):
            parameters.update(
                PreviousAccountId=self.config.accounts[upstream],
                Approvers=",".join(self.config.approvers.get(env, [])),
                ApprovalQuorum=str(self.config.quorum.get(env, 1)),
                GateMode=self.config.gate.get(env, "auto"),
                # Read at each runtime's start: `local window` restarts those that read it.
                DeployWindows=self.config.windows.get(env, ""),
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
        return self.names(env).parameters

    def _create_roles(self, env: str) -> None:
        """env's roles as its stack creates them: one per function, from its Policies in the template,
        and the role the next account's promoter assumes to read this env's commits."""
        names = self.names(env)
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
