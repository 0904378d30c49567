#!/usr/bin/env bash
# kafka-acls.sh for Runnel: the same flags and output, implemented with
# confluent-kafka's AdminClient (CreateAcls, DescribeAcls, DeleteAcls) from
# the repository's venv (<repo>/.venv, set up by scripts/test.sh), so it
# works against any Kafka-protocol broker with an authorizer.
#
#   acls.sh --bootstrap-server 127.0.0.1:9093 --command-config admin.properties \
#           --add --allow-principal User:alice --operation Write --topic orders
#   acls.sh ... --add --resource-pattern-type prefixed --topic pay- \
#           --allow-principal User:alice --operation Write
#   acls.sh ... --add --deny-principal User:mallory --deny-host 10.0.0.7 --operation Read --topic orders
#   acls.sh ... --add --producer --allow-principal User:alice --topic orders [--idempotent] \
#           [--transactional-id tx-1]
#   acls.sh ... --add --consumer --allow-principal User:bob --topic orders --group billing
#   acls.sh ... --add --allow-principal User:ops --operation Describe --cluster
#   acls.sh ... --list [--topic orders] [--resource-pattern-type match] [--principal User:alice]
#   acls.sh ... --remove [--force] --allow-principal User:alice --operation Write --topic orders
#
# --command-config names a client properties file: librdkafka's keys
# (security.protocol, ssl.ca.location, sasl.mechanisms, sasl.username,
# sasl.password, ...) or Kafka's (sasl.mechanism, ssl.truststore.location
# and ssl.keystore.location as PEM, sasl.jaas.config with username and
# password), translated for librdkafka.
#
# --resource-pattern-type: literal (default for --add/--remove) or prefixed;
# for --list/--remove also any (default for --list: every pattern type with
# exactly this name) or match (every binding that applies to the name:
# literal, wildcard '*' and matching prefixes).
#
# Without --force, --remove asks "Are you sure you want to remove ACLs: ...
# (y/n)" and reads the answer from stdin. Errors go to stderr with exit 1.
#
# Environment: RUNNEL_PYTHON runs this Python instead of <repo>/.venv/bin/python.
set -euo pipefail

PROG=acls.sh
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
PYTHON="$(venv_python)"
[[ -x "$PYTHON" ]] || die "no Python venv at $ROOT/.venv (run scripts/test.sh once, or set RUNNEL_PYTHON)"

# The program is passed with -c (not on stdin) so that --remove's (y/n)
# prompt reads the caller's stdin.
read -r -d '' PROGRAM <<'PYEOF' || true
import argparse
import re
import sys

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import (AclBinding, AclBindingFilter, AclOperation, AclPermissionType,
                                   AdminClient, ResourcePatternType, ResourceType)

PROG = "acls.sh"
CLUSTER_NAME = "kafka-cluster"


def usage_error(msg):
    print("%s: %s" % (PROG, msg), file=sys.stderr)
    print("Run '%s --help' for the options." % PROG, file=sys.stderr)
    sys.exit(1)


def fail(msg):
    print("Error while executing ACL command: %s" % msg, file=sys.stderr)
    sys.exit(1)


# --- names as Kafka prints and parses them -----------------------------------

OPERATIONS = {
    "read": AclOperation.READ, "write": AclOperation.WRITE, "create": AclOperation.CREATE,
    "delete": AclOperation.DELETE, "alter": AclOperation.ALTER, "describe": AclOperation.DESCRIBE,
    "clusteraction": AclOperation.CLUSTER_ACTION, "describeconfigs": AclOperation.DESCRIBE_CONFIGS,
    "alterconfigs": AclOperation.ALTER_CONFIGS, "idempotentwrite": AclOperation.IDEMPOTENT_WRITE,
    "all": AclOperation.ALL,
}
OPERATION_NAMES = ["Read", "Write", "Create", "Delete", "Alter", "Describe", "ClusterAction",
                   "DescribeConfigs", "AlterConfigs", "IdempotentWrite", "All"]
# Kafka's AclEntry.supportedOperations (plus All), by resource type.
SUPPORTED = {
    ResourceType.TOPIC: {AclOperation.READ, AclOperation.WRITE, AclOperation.CREATE,
                         AclOperation.DESCRIBE, AclOperation.DELETE, AclOperation.ALTER,
                         AclOperation.DESCRIBE_CONFIGS, AclOperation.ALTER_CONFIGS},
    ResourceType.GROUP: {AclOperation.READ, AclOperation.DESCRIBE, AclOperation.DELETE},
    ResourceType.BROKER: {AclOperation.CREATE, AclOperation.CLUSTER_ACTION,
                          AclOperation.DESCRIBE_CONFIGS, AclOperation.ALTER_CONFIGS,
                          AclOperation.IDEMPOTENT_WRITE, AclOperation.ALTER, AclOperation.DESCRIBE},
    ResourceType.TRANSACTIONAL_ID: {AclOperation.DESCRIBE, AclOperation.WRITE},
}
PATTERN_TYPES = {"literal": ResourcePatternType.LITERAL, "prefixed": ResourcePatternType.PREFIXED,
                 "any": ResourcePatternType.ANY, "match": ResourcePatternType.MATCH}


def rtype_name(t):
    # confluent-kafka calls Kafka's CLUSTER resource type BROKER (both code 4).
    return "CLUSTER" if t == ResourceType.BROKER else t.name


def operation_name(op):
    return next(n for n in OPERATION_NAMES if OPERATIONS[n.lower()] == op)


def parse_operation(text):
    key = re.sub(r"[_\-\s]", "", text).lower()
    if key not in OPERATIONS:
        usage_error("unknown --operation %r; valid operations: %s" % (text, ", ".join(OPERATION_NAMES)))
    return OPERATIONS[key]


def parse_principal(text):
    text = text.strip()
    kind, sep, name = text.partition(":")
    if not sep or not kind or not name:
        usage_error("a principal is TYPE:NAME, e.g. User:alice (got %r)" % text)
    return text


def pattern_str(rtype, name, ptype):
    return "ResourcePattern(resourceType=%s, name=%s, patternType=%s)" % (rtype_name(rtype), name,
                                                                         ptype.name)


def filter_str(rtype, name, ptype):
    return "ResourcePatternFilter(resourceType=%s, name=%s, patternType=%s)" % (
        rtype_name(rtype), name, ptype.name)


def entry_str(e):
    principal, host, op, perm = e
    return "(principal=%s, host=%s, operation=%s, permissionType=%s)" % (principal, host, op.name,
                                                                          perm.name)


def entries_block(entries):
    # Kafka: s"...: $Newline ${acls.map("\t" + _).mkString(Newline)} $Newline"
    return "\n " + "\n".join("\t" + entry_str(e) for e in entries) + " \n"


# --- client properties (--command-config) -------------------------------------

def read_properties(path):
    """Java .properties: key=value, key:value or key value; # and ! comments;
    a trailing backslash continues a line."""
    try:
        with open(path, encoding="utf-8") as f:
            raw = f.read().splitlines()
    except OSError as e:
        usage_error("--command-config %s: %s" % (path, e.strerror or e))
    props, logical, buf = {}, [], None
    for line in raw:
        stripped = line.lstrip()
        if buf is None and (not stripped or stripped[0] in "#!"):
            continue
        cont = (len(stripped) - len(stripped.rstrip("\\"))) % 2 == 1
        part = stripped[:-1] if cont else stripped
        buf = part if buf is None else buf + part
        if not cont:
            logical.append(buf)
            buf = None
    if buf is not None:
        logical.append(buf)
    for line in logical:
        m = re.match(r"((?:[^\\=:\s]|\\.)+)\s*[=:\s]\s*(.*)$", line)
        if not m:
            key, value = line.strip(), ""
        else:
            key, value = m.group(1), m.group(2)
        unescape = lambda s: re.sub(r"\\(.)", lambda x: {"t": "\t", "n": "\n", "r": "\r"}.get(
            x.group(1), x.group(1)), s)
        props[unescape(key)] = unescape(value).rstrip()
    return props


def jaas_options(text):
    """username/password (and the login module) of a sasl.jaas.config value."""
    m = re.match(r"\s*([\w.$]+)\s+(required|requisite|sufficient|optional)\b(.*)$", text, re.S)
    if not m:
        return None, {}
    opts = {}
    for om in re.finditer(r'([\w.\-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s;]+))', m.group(3)):
        opts[om.group(1)] = om.group(2) if om.group(2) is not None else om.group(3)
    return m.group(1), opts


# Kafka (Java client) keys that mean nothing to librdkafka and are dropped.
JAVA_ONLY = {"ssl.truststore.type", "ssl.keystore.type", "ssl.truststore.password",
             "ssl.keystore.password", "ssl.protocol", "ssl.enabled.protocols",
             "sasl.login.callback.handler.class", "bootstrap.servers", "request.timeout.ms",
             "default.api.timeout.ms", "retries", "retry.backoff.ms"}


def librdkafka_config(path):
    props = read_properties(path)
    conf = {}
    for key, value in props.items():
        if key in JAVA_ONLY:
            continue
        if key == "sasl.mechanism":
            conf["sasl.mechanisms"] = value
        elif key == "ssl.truststore.location":
            if props.get("ssl.truststore.type", "PEM").upper() != "PEM":
                usage_error("--command-config %s: ssl.truststore.type must be PEM" % path)
            conf["ssl.ca.location"] = value
        elif key == "ssl.keystore.location":
            if props.get("ssl.keystore.type", "PEM").upper() != "PEM":
                usage_error("--command-config %s: ssl.keystore.type must be PEM" % path)
            conf["ssl.certificate.location"] = value
            conf["ssl.key.location"] = value
        elif key == "ssl.endpoint.identification.algorithm":
            conf[key] = value if value else "none"
        elif key == "sasl.jaas.config":
            module, opts = jaas_options(value)
            if module is None or "username" not in opts or "password" not in opts:
                usage_error("--command-config %s: sasl.jaas.config needs a login module with "
                            "username=\"...\" and password=\"...\"" % path)
            conf["sasl.username"] = opts["username"]
            conf["sasl.password"] = opts["password"]
            if ("sasl.mechanism" not in props and "sasl.mechanisms" not in props
                    and module.endswith("PlainLoginModule")):
                conf["sasl.mechanisms"] = "PLAIN"
        else:
            conf[key] = value
    return conf


# --- command line ------------------------------------------------------------

p = argparse.ArgumentParser(
    prog=PROG, description="Add, remove and list ACLs (kafka-acls.sh for Runnel).",
    epilog="Operations: " + ", ".join(OPERATION_NAMES) + ". Principals are TYPE:NAME, e.g. User:alice.")
p.add_argument("--bootstrap-server", required=True, help="host:port[,host:port] of brokers")
p.add_argument("--command-config", help="client properties file (security settings)")
action = p.add_mutually_exclusive_group(required=True)
action.add_argument("--add", action="store_true", help="add the ACLs described")
action.add_argument("--remove", action="store_true", help="remove the ACLs described")
action.add_argument("--list", action="store_true", help="list ACLs of the resources given (all without any)")
p.add_argument("--allow-principal", action="append", default=[], metavar="P")
p.add_argument("--deny-principal", action="append", default=[], metavar="P")
p.add_argument("--principal", action="append", default=[], metavar="P",
               help="with --list: only the ACLs of this principal")
p.add_argument("--allow-host", action="append", default=[], metavar="H",
               help="host of --allow-principal (default *)")
p.add_argument("--deny-host", action="append", default=[], metavar="H",
               help="host of --deny-principal (default *)")
p.add_argument("--operation", action="append", default=[], metavar="OP",
               help="operation allowed or denied (repeatable; default All)")
p.add_argument("--topic", action="append", default=[], metavar="T")
p.add_argument("--group", action="append", default=[], metavar="G")
p.add_argument("--cluster", action="store_true")
p.add_argument("--transactional-id", action="append", default=[], metavar="ID")
p.add_argument("--resource-pattern-type", choices=sorted(PATTERN_TYPES), type=str.lower,
               help="literal|prefixed (add, remove), any|match (list, remove)")
p.add_argument("--producer", action="store_true",
               help="Write, Describe, Create on --topic; Write, Describe on --transactional-id")
p.add_argument("--idempotent", action="store_true", help="with --producer: IdempotentWrite on the cluster")
p.add_argument("--consumer", action="store_true", help="Read, Describe on --topic; Read on --group")
p.add_argument("--force", action="store_true", help="--remove without asking")
p.add_argument("--timeout", type=int, default=30000, help="request timeout, ms (default 30000)")
a = p.parse_args(sys.argv[1:])

if a.resource_pattern_type is None:
    pattern = ResourcePatternType.ANY if a.list else ResourcePatternType.LITERAL
else:
    pattern = PATTERN_TYPES[a.resource_pattern_type]
if a.add and pattern not in (ResourcePatternType.LITERAL, ResourcePatternType.PREFIXED):
    usage_error("A '--resource-pattern-type' value of '%s' is not valid when adding acls."
                % pattern.name)
if (a.producer or a.consumer) and not (a.add or a.remove):
    usage_error("--producer and --consumer go with --add or --remove")
if (a.producer or a.consumer) and (a.operation or a.deny_principal or a.deny_host):
    usage_error("--producer and --consumer take neither --operation nor --deny-principal/--deny-host")
if a.idempotent and not a.producer:
    usage_error("--idempotent goes with --producer")
if a.consumer and (not a.topic or not a.group):
    usage_error("With --consumer you must specify a --topic and a --group")
if a.producer and not (a.topic or a.transactional_id):
    usage_error("With --producer you must specify a --topic or a --transactional-id")
if a.list and (a.allow_principal or a.deny_principal or a.operation or a.allow_host or a.deny_host):
    usage_error("--list takes resources and --principal only (not --allow-principal, --deny-principal, "
                "--operation, --allow-host, --deny-host)")
if a.principal and not a.list:
    usage_error("--principal goes with --list (use --allow-principal/--deny-principal)")
if a.force and not a.remove:
    usage_error("--force goes with --remove")
if a.allow_host and not a.allow_principal:
    usage_error("--allow-host needs --allow-principal")
if a.deny_host and not a.deny_principal:
    usage_error("--deny-host needs --deny-principal")

# The resources (as filters: a pattern type may be any/match for list/remove).
resources = []
for t in a.topic:
    resources.append((ResourceType.TOPIC, t.strip(), pattern))
for g in a.group:
    resources.append((ResourceType.GROUP, g.strip(), pattern))
for x in a.transactional_id:
    resources.append((ResourceType.TRANSACTIONAL_ID, x.strip(), pattern))
if a.cluster or a.idempotent:
    if pattern == ResourcePatternType.PREFIXED:
        usage_error("--cluster takes no prefixed pattern (the cluster resource is literal)")
    resources.append((ResourceType.BROKER, CLUSTER_NAME,
                      pattern if a.list and pattern != ResourcePatternType.LITERAL
                      else ResourcePatternType.LITERAL))
for r in resources:
    if not r[1]:
        usage_error("a resource name may not be empty")
if not resources and not a.list:
    usage_error("You must provide at least one resource: --topic <topic> or --cluster or "
                "--group <group> or --transactional-id <id>")


def entries(operations):
    """Kafka's getAcl: (principal, host, operation, permission) for every
    allowed and denied principal, host and operation given."""
    allow = [parse_principal(x) for x in a.allow_principal]
    deny = [parse_principal(x) for x in a.deny_principal]
    allow_hosts = [h.strip() for h in a.allow_host] or (["*"] if allow else [])
    deny_hosts = [h.strip() for h in a.deny_host] or (["*"] if deny else [])
    out = []
    for principals, hosts, perm in ((allow, allow_hosts, AclPermissionType.ALLOW),
                                    (deny, deny_hosts, AclPermissionType.DENY)):
        for pr in principals:
            for h in hosts:
                for op in operations:
                    e = (pr, h, op, perm)
                    if e not in out:
                        out.append(e)
    return out


def resource_acls():
    """[(resource, [entry...])] for --add/--remove, as Kafka computes them."""
    if a.producer or a.consumer:
        out = {}
        def put(res, ops):
            cur = out.setdefault(res, [])
            for e in entries(ops):
                if e not in cur:
                    cur.append(e)
        if a.producer:
            for r in resources:
                if r[0] == ResourceType.TOPIC:
                    put(r, [AclOperation.WRITE, AclOperation.DESCRIBE, AclOperation.CREATE])
                elif r[0] == ResourceType.TRANSACTIONAL_ID:
                    put(r, [AclOperation.WRITE, AclOperation.DESCRIBE])
                elif r[0] == ResourceType.BROKER and a.idempotent:
                    put(r, [AclOperation.IDEMPOTENT_WRITE])
        if a.consumer:
            for r in resources:
                if r[0] == ResourceType.TOPIC:
                    put(r, [AclOperation.READ, AclOperation.DESCRIBE])
                elif r[0] == ResourceType.GROUP:
                    put(r, [AclOperation.READ])
        return list(out.items())
    ops = []
    for o in a.operation or ["All"]:
        op = parse_operation(o)
        if op not in ops:
            ops.append(op)
    acls = entries(ops)
    for r in resources:
        bad = [op for op in ops if op != AclOperation.ALL and op not in SUPPORTED[r[0]]]
        if bad and acls:
            usage_error("ResourceType %s only supports operations %s" % (
                rtype_name(r[0]), ", ".join(operation_name(o) for o in
                                           sorted(SUPPORTED[r[0]] | {AclOperation.ALL},
                                                  key=lambda o: o.value))))
    return [(r, list(acls)) for r in resources]


# --- talking to the broker -----------------------------------------------------

TIMEOUT = a.timeout / 1000.0
conf = librdkafka_config(a.command_config) if a.command_config else {}
conf["bootstrap.servers"] = a.bootstrap_server
# librdkafka's own connection-failure lines would repeat the one error the
# script prints (a "debug" or "log_level" in --command-config still wins).
conf.setdefault("log_level", "0" if "debug" not in conf else "7")


def kerr(exc):
    """A one-line reason for a KafkaException, in Kafka's words where the
    error code says something a user can act on."""
    err = exc.args[0] if exc.args else None
    if not isinstance(err, KafkaError):
        return str(exc)
    code = err.code()
    if code == KafkaError.SECURITY_DISABLED:
        return "No Authorizer is configured on the broker (SECURITY_DISABLED: %s)" % err.str()
    if code == KafkaError.CLUSTER_AUTHORIZATION_FAILED:
        return ("Not authorized: ACLs are read and changed with Describe and Alter on the "
                "Cluster resource (CLUSTER_AUTHORIZATION_FAILED: %s)" % err.str())
    if code in (KafkaError._TIMED_OUT, KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN):
        return "no answer from %s (%s: %s)" % (a.bootstrap_server, err.name(), err.str())
    return "%s: %s" % (err.name(), err.str())


_admin = None


def admin():
    """confluent-kafka's AdminClient (made on first use: --list does not need it)."""
    global _admin
    if _admin is None:
        try:
            _admin = AdminClient(conf)
        except (KafkaException, ValueError, TypeError) as e:
            reason = kerr(e) if isinstance(e, KafkaException) else str(e)
            usage_error("--command-config %s: %s" % (a.command_config, reason)
                        if a.command_config else reason)
    return _admin


def run(fn, *args, **kw):
    try:
        return fn(*args, **kw)
    except KafkaException as e:
        fail(kerr(e))
    except (ValueError, TypeError) as e:
        fail(str(e))


# DescribeAcls goes through kafka-python: librdkafka (up to its current
# release) reads the response's error code and drops it, so a refusal
# (CLUSTER_AUTHORIZATION_FAILED, SECURITY_DISABLED) would look like "no
# ACLs". CreateAcls and DeleteAcls report per-binding errors, which
# confluent-kafka passes on.
_describer = None


def kafka_python_admin():
    global _describer
    if _describer is not None:
        return _describer
    import logging
    logging.getLogger("kafka").addHandler(logging.NullHandler())
    logging.getLogger("kafka").propagate = False
    from kafka.admin import KafkaAdminClient
    from kafka.errors import KafkaError as KpError
    kp = {"bootstrap_servers": a.bootstrap_server.split(","), "client_id": "acls.sh",
          "request_timeout_ms": a.timeout, "bootstrap_timeout_ms": a.timeout,
          "security_protocol": conf.get("security.protocol", "PLAINTEXT").upper()}
    for rd, key in (("ssl.ca.location", "ssl_cafile"), ("ssl.certificate.location", "ssl_certfile"),
                    ("ssl.key.location", "ssl_keyfile"), ("ssl.key.password", "ssl_password"),
                    ("sasl.username", "sasl_plain_username"),
                    ("sasl.password", "sasl_plain_password")):
        if rd in conf:
            kp[key] = conf[rd]
    mechanism = conf.get("sasl.mechanisms") or conf.get("sasl.mechanism")
    if mechanism:
        kp["sasl_mechanism"] = mechanism.upper()
    if conf.get("ssl.endpoint.identification.algorithm", "https").lower() == "none":
        kp["ssl_check_hostname"] = False
    try:
        _describer = KafkaAdminClient(**kp)
    except KpError as e:
        fail("no answer from %s (%s)" % (a.bootstrap_server, kp_reason(e)))
    return _describer


def kp_reason(e):
    errno = getattr(e, "errno", None)
    text = getattr(e, "message", None) or type(e).__name__
    detail = str(e.args[0]) if e.args and e.args[0] else getattr(e, "description", "")
    if errno == 54:
        return "No Authorizer is configured on the broker (SECURITY_DISABLED: %s)" % detail
    if errno == 31:
        return ("Not authorized: ACLs are read and changed with Describe and Alter on the "
                "Cluster resource (CLUSTER_AUTHORIZATION_FAILED: %s)" % detail)
    return "%s: %s" % (text, detail) if detail else str(text)


def describe(filters):
    """{(rtype, name, ptype): [entry...]} of the bindings matching any filter."""
    from kafka.admin import (ACLFilter, ACLOperation, ACLPermissionType, ACLResourcePatternType,
                             ResourcePatternFilter)
    from kafka.admin import ResourceType as KpResourceType
    from kafka.errors import KafkaError as KpError
    kp = kafka_python_admin()
    found = {}
    for rtype, name, ptype in filters:
        f = ACLFilter(principal=None, host=None, operation=ACLOperation.ANY,
                      permission_type=ACLPermissionType.ANY,
                      resource_pattern=ResourcePatternFilter(KpResourceType(rtype.value), name,
                                                             ACLResourcePatternType(ptype.value)))
        try:
            acls, _ = kp.describe_acls(f)
        except KpError as e:
            fail(kp_reason(e))
        for acl in acls:
            rp = acl.resource_pattern
            key = (ResourceType(int(rp.resource_type)), rp.resource_name,
                   ResourcePatternType(int(rp.pattern_type)))
            e = (acl.principal, acl.host, AclOperation(int(acl.operation)),
                 AclPermissionType(int(acl.permission_type)))
            cur = found.setdefault(key, [])
            if e not in cur:
                cur.append(e)
    return found


def sort_key(res):
    return (rtype_name(res[0]), res[1], res[2].name)


def list_acls():
    filters = resources or [(ResourceType.ANY, None, ResourcePatternType.ANY)]
    found = describe(filters)
    principals = [parse_principal(x) for x in a.principal]

    def show(items):
        for res in sorted(items, key=sort_key):
            print("Current ACLs for resource `%s`: %s" % (pattern_str(*res), entries_block(items[res])))

    if not principals:
        show(found)
        return
    for pr in principals:
        print("ACLs for principal `%s`" % pr)
        show({res: [e for e in acls if e[0] == pr] for res, acls in found.items()
              if any(e[0] == pr for e in acls)})


def confirm(msg):
    if a.force:
        return True
    print(msg, flush=True)
    line = sys.stdin.readline()
    return line.strip().lower() == "y"


if a.list:
    list_acls()
    sys.exit(0)

todo = resource_acls()
if a.add and any(not acls for _, acls in todo):
    usage_error("You must specify one of: --allow-principal, --deny-principal when trying to add ACLs.")
admin()  # the client settings are checked before anything is printed

if a.add:
    for res, acls in todo:
        print("Adding ACLs for resource `%s`: %s" % (pattern_str(*res), entries_block(acls)))
        bindings = [AclBinding(res[0], res[1], res[2], pr, h, op, perm) for pr, h, op, perm in acls]
        futs = run(admin().create_acls, bindings, request_timeout=TIMEOUT)
        for f in futs.values():
            run(f.result, timeout=TIMEOUT + 5)
    list_acls()
    sys.exit(0)

if a.remove:
    for res, acls in todo:
        if not acls:
            ok = confirm("Are you sure you want to delete all ACLs for resource filter `%s`? (y/n)"
                         % filter_str(*res))
            filters = [AclBindingFilter(res[0], res[1], res[2], None, None, AclOperation.ANY,
                                        AclPermissionType.ANY)]
        else:
            ok = confirm("Are you sure you want to remove ACLs: %s from resource filter `%s`? (y/n)"
                         % (entries_block(acls), filter_str(*res)))
            filters = [AclBindingFilter(res[0], res[1], res[2], pr, h, op, perm)
                       for pr, h, op, perm in acls]
        if not ok:
            continue
        futs = run(admin().delete_acls, filters, request_timeout=TIMEOUT)
        for f in futs.values():
            run(f.result, timeout=TIMEOUT + 5)
    list_acls()
    sys.exit(0)
PYEOF

exec "$PYTHON" -c "$PROGRAM" "$@"
