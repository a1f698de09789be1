"""What the rendered chart must hold, beyond being valid Kubernetes (kubernetes-validate checks
that): probes on /readyz and /healthz, a PodDisruptionBudget, migrations as a pre-install and
pre-upgrade Job, every secret from a Secret, and an unprivileged, read-only container.

    python3 shape.py RENDERED.yaml [--s3]
"""

import sys

import yaml


def fail(why):
    sys.exit(f"deploy kit: {why}")


def main():
    path, s3 = sys.argv[1], "--s3" in sys.argv[2:]
    docs = [d for d in yaml.safe_load_all(open(path)) if d]
    kinds = {d["kind"]: d for d in docs}
    for kind in ("Deployment", "Service", "PodDisruptionBudget", "Job"):
        if kind not in kinds:
            fail(f"no {kind} rendered")
    job = kinds["Job"]
    hooks = job["metadata"].get("annotations", {}).get("helm.sh/hook", "")
    if set(hooks.split(",")) != {"pre-install", "pre-upgrade"}:
        fail(f"the migration Job is not a pre-install/pre-upgrade hook: {hooks!r}")
    if job["spec"]["template"]["spec"]["containers"][0]["args"] != ["migrate"]:
        fail("the Job does not run `switchboard migrate`")
    pod = kinds["Deployment"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    if container.get("readinessProbe", {}).get("httpGet", {}).get("path") != "/readyz":
        fail("the readiness probe does not ask /readyz")
    if container.get("livenessProbe", {}).get("httpGet", {}).get("path") != "/healthz":
        fail("the liveness probe does not ask /healthz")
    ctx = container.get("securityContext", {})
    if not (ctx.get("runAsNonRoot") and ctx.get("readOnlyRootFilesystem") and ctx.get("allowPrivilegeEscalation") is False):
        fail(f"the container is not unprivileged and read-only: {ctx}")
    env = {e["name"]: e for e in container["env"]}
    secret_keys = ["SWITCHBOARD_DATABASE_URL", "SWITCHBOARD_JWT_SECRET", "SWITCHBOARD_MASTER_KEY"]
    if s3:
        secret_keys.append("SWITCHBOARD_MEDIA_S3_SECRET_ACCESS_KEY")
    for name in secret_keys:
        if "secretKeyRef" not in env.get(name, {}).get("valueFrom", {}):
            fail(f"{name} does not come from a Secret")
    drain = int(env["SWITCHBOARD_SHUTDOWN_DRAIN_SECS"]["value"])
    timeout = int(env["SWITCHBOARD_SHUTDOWN_TIMEOUT_SECS"]["value"])
    if pod["terminationGracePeriodSeconds"] <= drain + timeout:
        fail("the grace period does not cover the drain and the requests in flight")
    pdb = kinds["PodDisruptionBudget"]["spec"]
    if pdb["selector"]["matchLabels"] != kinds["Deployment"]["spec"]["selector"]["matchLabels"]:
        fail("the PodDisruptionBudget does not select the instances")
    print(f"{path}: {', '.join(sorted(kinds))}: probes, budget, migration hook, secrets, unprivileged: ok")


main()
