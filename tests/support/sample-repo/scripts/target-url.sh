#!/usr/bin/env bash
# Prints the base URL of an environment: dev, staging, production or pr-aos-<N>.
# It is the delivery-gate.io/url annotation of the ingress `aos` in its namespace.
set -euo pipefail

environment="${1:-}"
case "$environment" in
  dev | staging | production) namespace="aos-$environment" ;;
  # A pull request's disposable environment: stack pr-aos-<N>, namespace aos-pr-<N>.
  pr-aos-[1-9]*) namespace="aos-pr-${environment#pr-aos-}" ;;
  *) namespace="" ;;
esac
if ! [[ "$namespace" =~ ^aos-(dev|staging|production|pr-[1-9][0-9]*)$ ]]; then
  echo "unknown environment: '$environment' (dev, staging, production or pr-aos-<N>)" >&2
  exit 1
fi

url=$(kubectl -n "$namespace" get ingress aos \
  -o jsonpath='{.metadata.annotations.delivery-gate\.io/url}')
if [ -z "$url" ]; then
  echo "ingress aos in $namespace has no delivery-gate.io/url" >&2
  exit 1
fi
echo "$url"
