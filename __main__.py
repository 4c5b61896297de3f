"""The Pulumi program of this project (Pulumi.yaml): the delivery gate of the stack being run."""

from gate.entry import program

program()
