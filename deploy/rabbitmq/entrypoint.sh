#!/bin/sh
# Entrypoint of the rabbitmq container: write the broker's definitions with the users'
# passwords, then hand over to the image's own entrypoint.
#
# deploy/rabbitmq/definitions.json (generated from the contract) holds the users, their
# rights and the topology; each password is a placeholder @@password:<user>@@. Each is
# filled from the Docker secret /run/secrets/rabbitmq-<user>-password, and the result is
# written to a tmpfs that only the broker reads; rabbitmq.conf loads it at every start
# (load_definitions), so a changed password takes effect with the next start.
#
# A password that is missing, empty, still a change-me-… placeholder, shorter than 16
# characters or not URL-safe stops the container before the broker starts.
set -eu

template="${DIKO_DEFINITIONS_TEMPLATE:-/etc/rabbitmq/diko/definitions.json}"
target="${DIKO_DEFINITIONS:-/run/diko-rabbitmq/definitions.json}"
secrets="${DIKO_SECRETS_DIR:-/run/secrets}"

fail() {
  echo "diko: $*" >&2
  exit 1
}

[ -r "$template" ] || fail "the definitions template $template is missing"
mkdir -p "$(dirname "$target")"
umask 077
rendered="$target.tmp"
cp "$template" "$rendered"
for user in $(grep -o '@@password:[A-Za-z0-9._-]*@@' "$template" | sed 's/@@password:\(.*\)@@/\1/' | sort -u); do
  file="$secrets/rabbitmq-$user-password"
  [ -r "$file" ] || fail "no password for the broker user '$user': the secret rabbitmq-$user-password is missing (see docker-compose.yml and .env.example)"
  password="$(cat "$file")"
  case "$password" in
  '') fail "the password of the broker user '$user' is empty" ;;
  change-me*) fail "the password of the broker user '$user' is still the change-me placeholder of .env.example; choose a secret (openssl rand -hex 32) and start again" ;;
  *[!A-Za-z0-9._~-]*) fail "the password of the broker user '$user' may hold only letters, digits and - . _ ~" ;;
  esac
  [ "${#password}" -ge 16 ] || fail "the password of the broker user '$user' is shorter than 16 characters"
  sed -i "s|@@password:$user@@|$password|g" "$rendered"
done
mv "$rendered" "$target"
if [ "$(id -u)" = 0 ] && id rabbitmq >/dev/null 2>&1; then
  chown -R rabbitmq:rabbitmq "$(dirname "$target")"
fi
exec docker-entrypoint.sh "$@"
