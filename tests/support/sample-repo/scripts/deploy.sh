#!/usr/bin/env bash
# Deploys an image, pinned by digest, to an environment and waits for it:
#   scripts/deploy.sh <dev|staging|production|pr-aos-N> <repository>@sha256:<64 hex>
# Rolling back is deploying the previous image (scripts/current-image.sh).
set -euo pipefail

environment="${1:-}"
image="${2:-}"
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
if ! [[ "$image" =~ ^[a-z0-9][a-z0-9._:/-]*@sha256:[0-9a-f]{64}$ ]]; then
  echo "refusing to deploy '$image': not pinned by digest (<repository>@sha256:<64 hex>)" >&2
  exit 1
fi

kubectl -n "$namespace" set image deployment/aos "app=$image"
kubectl -n "$namespace" rollout status deployment/aos --timeout=5m
echo "deployed $image to $environment"
