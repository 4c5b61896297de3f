#!/usr/bin/env bash
# Prints the base URL of an environment: dev, staging, production or pr-<N>.
# It is the delivery-gate.io/url annotation of the ingress `aos` in aos-<env>.
set -euo pipefail

environment="${1:-}"
if ! [[ "$environment" =~ ^(dev|staging|production|pr-[1-9][0-9]*)$ ]]; then
  echo "unknown environment: '$environment' (dev, staging, production or pr-<N>)" >&2
  exit 1
fi

url=$(kubectl -n "aos-$environment" get ingress aos \
  -o jsonpath='{.metadata.annotations.delivery-gate\.io/url}')
if [ -z "$url" ]; then
  echo "ingress aos in aos-$environment has no delivery-gate.io/url" >&2
  exit 1
fi
echo "$url"
