#!/usr/bin/env bash
# Prints the digest-pinned image that runs in an environment (the rollback
# target), or nothing before the first deploy. Fails when it cannot tell.
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

image=$(kubectl -n "$namespace" get deployment aos --ignore-not-found \
  -o jsonpath='{.spec.template.spec.containers[?(@.name=="app")].image}')
if [ -z "$image" ]; then
  exit 0  # no deployment yet: nothing to roll back to
fi
if ! [[ "$image" =~ @sha256:[0-9a-f]{64}$ ]]; then
  echo "aos in $environment runs '$image', which is not pinned by digest" >&2
  exit 1
fi
echo "$image"
