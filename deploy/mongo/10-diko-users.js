// One MongoDB user per diko service, allowed to read and write its own database only
// (every service has a database user of its own): user `companies` gets readWrite on
// `diko_companies`, and so on. The users are defined in their own database, so each
// service's DIKO_MONGO_URL ends in /diko_<service> (its authentication database).
//
// The official image runs this file once, as the root user, when the data volume is
// empty (mounted under /docker-entrypoint-initdb.d/). It is safe to run again: an
// existing user gets the password and roles given now. That is how to add a service to
// an existing deployment or change a password (deploy/README.md, "Secrets"):
//
//   docker compose exec mongo sh -c 'mongosh --quiet -u "$MONGO_INITDB_ROOT_USERNAME" \
//     -p "$MONGO_INITDB_ROOT_PASSWORD" --authenticationDatabase admin \
//     /docker-entrypoint-initdb.d/10-diko-users.js'
//
// The passwords come from the container's environment, MONGO_<SERVICE>_PASSWORD, which
// docker-compose.yml fills from .env. Nothing is created unless every password is set,
// has been changed from the .env.example placeholder, and can stand in a URL unescaped.

const SERVICES = ["companies", "matching", "notifications", "media"];
const URL_SAFE = /^[A-Za-z0-9._~-]{16,}$/;

function passwordOf(service) {
  const variable = `MONGO_${service.toUpperCase()}_PASSWORD`;
  const password = process.env[variable] || "";
  if (password === "") {
    throw new Error(`${variable} is not set: add it to .env (openssl rand -hex 32)`);
  }
  if (password.startsWith("change-me")) {
    throw new Error(`${variable} is still the .env.example placeholder: openssl rand -hex 32`);
  }
  if (!URL_SAFE.test(password)) {
    throw new Error(
      `${variable} must be at least 16 characters of A-Z a-z 0-9 . _ ~ - ` +
        "(it stands unescaped in DIKO_MONGO_URL): openssl rand -hex 32",
    );
  }
  return password;
}

// Check every password before touching anything: all users or none.
const passwords = Object.fromEntries(SERVICES.map((service) => [service, passwordOf(service)]));

for (const service of SERVICES) {
  const name = `diko_${service}`;
  const database = db.getSiblingDB(name);
  const roles = [{ role: "readWrite", db: name }];
  if (database.getUser(service) === null) {
    database.createUser({ user: service, pwd: passwords[service], roles });
    print(`diko: created user ${service} (readWrite on ${name})`);
  } else {
    database.updateUser(service, { pwd: passwords[service], roles });
    print(`diko: updated user ${service} (readWrite on ${name})`);
  }
}
