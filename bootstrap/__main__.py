"""Delivery Gate bootstrap: the S3 state backend and the KMS key for stack secrets.

Applied once per organisation, with local state, before any delivery-gate stack exists; its outputs
are the `pulumi login` URL and the `--secrets-provider` every other stack is created with.
"""

import sys
from pathlib import Path

# The components and the pure core live in the delivery-gate project one directory up, and Pulumi
# runs this program from bootstrap/: put the project root on the import path before importing them.
_PROJECT_ROOT = str(Path(__file__).resolve().parent.parent)
if _PROJECT_ROOT not in sys.path:
    sys.path.insert(0, _PROJECT_ROOT)

import pulumi  # noqa: E402

from gate.aws.foundation import BOOTSTRAP_NAMESPACE, load_state_backend  # noqa: E402
from gate.components.aws import StateBackend  # noqa: E402
from gate.errors import GateError  # noqa: E402
from gate.offline.engine import all_config  # noqa: E402
from gate.policy.loader import namespace_values, stack_file  # noqa: E402


def main() -> None:
    try:
        # Fails before any resource is declared; RunError prints the message without a traceback.
        settings = load_state_backend(
            namespace_values(all_config(), BOOTSTRAP_NAMESPACE), source=stack_file(pulumi.get_stack())
        )
    except GateError as error:
        raise pulumi.RunError(str(error)) from None

    backend = StateBackend("state", settings)
    pulumi.export("bucketName", backend.bucket_name)
    pulumi.export("stateKeyArn", backend.state_key_arn)
    pulumi.export("secretsKeyAlias", backend.secrets_key_alias)
    # What every other stack needs: `pulumi login <loginUrl>`, then
    # `pulumi stack init <stack> --secrets-provider <secretsProvider>`.
    pulumi.export("loginUrl", backend.login_url)
    pulumi.export("secretsProvider", backend.secrets_provider)
    pulumi.export("loginCommand", backend.login_url.apply(lambda url: f"pulumi login '{url}'"))
    pulumi.export(
        "secretsProviderFlag",
        backend.secrets_provider.apply(lambda provider: f"--secrets-provider '{provider}'"),
    )


main()
