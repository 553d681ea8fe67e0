#!/bin/sh
# Entrypoint of the rabbitmq container: refuse the change-me placeholder of .env.example
# as the broker user's password (RabbitMQ would accept it and keep it), then hand over
# to the image's own entrypoint. MongoDB's init script does the same for its users.
case "${DIKO_BROKER_PASSWORD:-}" in
change-me*)
  echo "diko: RABBITMQ_PASSWORD in .env is still the change-me placeholder of .env.example;" \
    "choose a secret (openssl rand -hex 32) and start again" >&2
  exit 1
  ;;
esac
exec docker-entrypoint.sh "$@"
