"""The AWS side of an environment, rendered from the policy: pure documents and specs.

`foundation` computes the registry, the GitHub OIDC deploy roles (least privilege, per environment),
the topics and Chatbot routing, the CloudWatch alarms on the rollback criteria and the AppConfig flags.
`gate.components.aws` declares them as pulumi-aws resources.
"""
