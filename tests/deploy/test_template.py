"""template.yaml: linted by `sam validate --lint` and `cfn-lint`, plus the
properties the deployment issue asks for, checked on the parsed template."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
from typing import Any

import pytest

from devtools.scheduler import scheduled_event
from tests.deploy.conftest import ROOT, TEMPLATE, functions_of, tool_env

HTTP_FUNCTIONS = {"InteractFunction", "RecsFunction"}
SCHEDULED_FUNCTIONS = {"PopularityFunction", "TrainFunction"}


def test_cfn_lint_passes(sam_tools: dict[str, str]) -> None:
    result = subprocess.run(
        [sam_tools["cfn-lint"], str(TEMPLATE)],
        cwd=ROOT,
        env=tool_env(),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_sam_validate_lint_passes(sam_tools: dict[str, str]) -> None:
    result = subprocess.run(
        [sam_tools["sam"], "validate", "--lint", "--template-file", str(TEMPLATE)],
        cwd=ROOT,
        env=tool_env(),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout + result.stderr


def test_four_functions_with_importable_handlers(template: dict[str, Any]) -> None:
    functions = functions_of(template)
    assert set(functions) == HTTP_FUNCTIONS | SCHEDULED_FUNCTIONS
    for name, props in functions.items():
        module, _, attr = props["Handler"].rpartition(".")
        assert attr == "handler", name
        # The handler is the repository's own import path (no sys.path tricks):
        # functions.<name>.app, built into the zip by deploy/Makefile.
        assert re.fullmatch(r"functions\.[a-z_]+\.app", module), props["Handler"]
        folder = module.split(".")[1]
        assert props["CodeUri"] == f"functions/{folder}", name
        assert (ROOT / "functions" / folder / "requirements.txt").is_file()
        build = template["Resources"][name]["Metadata"]
        assert build == {"BuildMethod": "makefile", "ContextPath": "deploy"}, name
        target = f"build-{name}:"
        assert target in (ROOT / "deploy" / "Makefile").read_text(), f"no {target} target"


def test_handler_modules_exist_on_disk(template: dict[str, Any]) -> None:
    for name, props in functions_of(template).items():
        module = props["Handler"].rpartition(".")[0]
        if module == "functions.train.app" and not (ROOT / "functions/train/app.py").exists():
            pytest.skip("functions/train/app.py is not written yet")
        assert importlib.util.find_spec(module) is not None, f"{name}: {module} not found"


def test_http_functions_have_urls_with_narrow_cors(template: dict[str, Any]) -> None:
    functions = functions_of(template)
    for name in HTTP_FUNCTIONS:
        url = functions[name]["FunctionUrlConfig"]
        assert url["AuthType"] == "NONE"  # a public API, like the original service
        origins = url["Cors"]["AllowOrigins"]
        assert origins and "*" not in origins, f"{name}: CORS must name the frontend's origin"
        # The origin is the parameter, or else the website bucket's own URL.
        assert origins[0]["If"][0] == "HasFrontendOrigin"
        assert origins[0]["If"][2] == {"GetAtt": "FrontendBucket.WebsiteURL"}
    for name in SCHEDULED_FUNCTIONS:
        assert "FunctionUrlConfig" not in functions[name]


def _schedule(props: dict[str, Any]) -> dict[str, Any]:
    events = [e for e in props["Events"].values() if e["Type"] == "ScheduleV2"]
    assert len(events) == 1
    schedule: dict[str, Any] = events[0]["Properties"]
    return schedule


def test_scheduled_jobs(template: dict[str, Any]) -> None:
    functions = functions_of(template)
    assert _schedule(functions["PopularityFunction"])["ScheduleExpression"] == "rate(1 minute)"
    train = _schedule(functions["TrainFunction"])
    assert train["ScheduleExpression"] == {"Ref": "TrainSchedule"}
    assert template["Parameters"]["TrainSchedule"]["Default"] == "rate(1 hour)"
    for name in SCHEDULED_FUNCTIONS:
        props = functions[name]
        schedule = _schedule(props)
        # Failed deliveries and failed runs both end up somewhere visible.
        assert schedule["DeadLetterConfig"] == {"Arn": {"GetAtt": "JobFailureQueue.Arn"}}
        on_failure = props["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]
        assert on_failure["Type"] == "SQS"
        assert schedule["OmitName"] is True
        # A job never runs twice at once: one drainer, one trainer.
        assert props["ReservedConcurrentExecutions"]["If"][1] == 1


def test_scheduler_input_is_an_eventbridge_shaped_json_event(template: dict[str, Any]) -> None:
    for name in SCHEDULED_FUNCTIONS:
        raw = _schedule(functions_of(template)[name])["Input"]["Sub"]
        filled = raw.replace("${AWS::AccountId}", "123456789012").replace(
            "${AWS::Region}", "us-east-1"
        )
        assert "${" not in filled
        event = json.loads(filled)
        # The local scheduler and the tests send the same shape (one home for it).
        local = scheduled_event(event["detail"]["job"])
        assert set(event) == set(local)
        assert (event["source"], event["detail-type"]) == (local["source"], local["detail-type"])
        assert set(event["detail"]) == set(local["detail"])


def test_train_sizing(template: dict[str, Any]) -> None:
    train = functions_of(template)["TrainFunction"]
    assert train["Timeout"] == 900
    assert train["MemorySize"] >= 3538  # two full vCPUs, like the 2-core reference machine
    search = template["Parameters"]["TrainSearchTimeout"]
    assert search["MaxValue"] < train["Timeout"]


def test_buckets(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    artifact = resources["ArtifactBucket"]["Properties"]
    assert artifact["VersioningConfiguration"]["Status"] == "Enabled"
    assert all(artifact["PublicAccessBlockConfiguration"].values())
    frontend = resources["FrontendBucket"]["Properties"]
    assert frontend["WebsiteConfiguration"]["IndexDocument"] == "index.html"
    block = frontend["PublicAccessBlockConfiguration"]
    assert block["BlockPublicAcls"] and block["IgnorePublicAcls"]
    statements = resources["FrontendBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert [s["Action"] for s in statements] == ["s3:GetObject"]  # read objects, no listing


def _statements(props: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for policy in props.get("Policies", []):
        found.extend(policy.get("Statement", []))
    return found


def test_least_privilege(template: dict[str, Any]) -> None:
    functions = functions_of(template)
    # The HTTP functions talk to Redis and RabbitMQ only: no AWS permissions at all.
    for name in HTTP_FUNCTIONS:
        assert "Policies" not in functions[name], name
    for name in SCHEDULED_FUNCTIONS:
        for statement in _statements(functions[name]):
            actions = statement["Action"]
            actions = actions if isinstance(actions, list) else [actions]
            assert all(a.startswith("s3:") and "*" not in a for a in actions), statement
            resource = json.dumps(statement["Resource"])
            assert "ArtifactBucket" in resource and '"*"' not in resource
            if any(a != "s3:ListBucket" for a in actions):
                assert "/events/*" in resource or "/artifacts/*" in resource, statement
    popularity = json.dumps(_statements(functions["PopularityFunction"]))
    assert "/artifacts/" not in popularity  # the drainer never touches the models
    train_writes = [
        s
        for s in _statements(functions["TrainFunction"])
        if "s3:PutObject" in json.dumps(s["Action"])
    ]
    assert all("/artifacts/*" in json.dumps(s["Resource"]) for s in train_writes)


def test_parameters_and_secrets(template: dict[str, Any]) -> None:
    params = template["Parameters"]
    for secret in ("RedisUrl", "RabbitMqUrl", "AdminToken"):
        assert params[secret].get("NoEcho") is True, secret
        assert "Default" not in params[secret], secret
    for name in ("SubnetIds", "SecurityGroupIds", "ExplorationRate"):
        assert name in params
    assert params["ExplorationRate"]["MinValue"] == 0
    assert params["ExplorationRate"]["MaxValue"] == 1
    vpc = template["Globals"]["Function"]["VpcConfig"]["If"]
    assert vpc[0] == "HasVpc"
    assert vpc[1] == {
        "SubnetIds": {"Ref": "SubnetIds"},
        "SecurityGroupIds": {"Ref": "SecurityGroupIds"},
    }
    # The admin token reaches only the function with admin endpoints.
    functions = functions_of(template)
    holders = [n for n, p in functions.items() if "RECSYS_ADMIN_TOKEN" in json.dumps(p)]
    assert holders == ["RecsFunction"]


def test_outputs(template: dict[str, Any]) -> None:
    outputs = template["Outputs"]
    assert outputs["InteractUrl"]["Value"] == {"GetAtt": "InteractFunctionUrl.FunctionUrl"}
    assert outputs["RecsUrl"]["Value"] == {"GetAtt": "RecsFunctionUrl.FunctionUrl"}
    assert outputs["WebsiteUrl"]["Value"] == {"GetAtt": "FrontendBucket.WebsiteURL"}


def test_no_path_hacks_in_functions() -> None:
    for path in (ROOT / "functions").rglob("*.py"):
        text = path.read_text()
        assert "sys.path" not in text, f"{path}: the handler must import without sys.path edits"


def test_training_can_run_as_a_fargate_task_on_the_same_schedule(template: dict[str, Any]) -> None:
    """TrainRunner=fargate: the same handler in an ECS task, started by the same schedule."""
    params = template["Parameters"]
    assert params["TrainRunner"]["Default"] == "lambda"
    assert set(params["TrainRunner"]["AllowedValues"]) == {"lambda", "fargate"}
    assert template["Conditions"]["TrainOnFargate"] == {
        "And": [{"Equals": [{"Ref": "TrainRunner"}, "fargate"]}, {"Condition": "HasVpc"}]
    }
    resources = template["Resources"]
    fargate = {n: r for n, r in resources.items() if r.get("Condition") == "TrainOnFargate"}
    assert {r["Type"] for r in fargate.values()} >= {
        "AWS::ECS::Cluster",
        "AWS::ECS::TaskDefinition",
        "AWS::Scheduler::Schedule",
    }
    # Only one of the two runs on schedule: the Lambda's is disabled under fargate.
    lambda_schedule = _schedule(functions_of(template)["TrainFunction"])
    assert lambda_schedule["State"] == {"If": ["TrainOnFargate", "DISABLED", "ENABLED"]}
    task_schedule = resources["TrainTaskSchedule"]["Properties"]
    assert task_schedule["ScheduleExpression"] == lambda_schedule["ScheduleExpression"]
    assert task_schedule["Target"]["DeadLetterConfig"] == {"Arn": {"GetAtt": "JobFailureQueue.Arn"}}
    # The container runs the Lambda handler itself, with the train function's settings.
    container = resources["TrainTaskDefinition"]["Properties"]["ContainerDefinitions"][0]
    assert "from functions.train.app import handler" in " ".join(container["Command"])
    train_env = functions_of(template)["TrainFunction"]["Environment"]["Variables"]
    shared_env = template["Globals"]["Function"]["Environment"]["Variables"]
    task_env = {v["Name"] for v in container["Environment"]}
    assert task_env == set(train_env) | set(shared_env)
    # Same S3 permissions as the function: read events, write artifacts, nothing else.
    statements = resources["TrainTaskRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    assert _statements_without_sid(statements["Statement"]) == _statements_without_sid(
        _statements(functions_of(template)["TrainFunction"])
    )


def _statements_without_sid(statements: list[dict[str, Any]]) -> list[str]:
    return sorted(json.dumps({k: v for k, v in s.items() if k != "Sid"}) for s in statements)
