#!/usr/bin/env bash
# Makes a fresh LIP certificate authority and one certificate per node role.
#
#   bash deploy/certs/make_certs.sh OUT_DIR [--validity=current|expired|future] [--san=LIST] [NODE...]
#
# OUT_DIR gets:
#   ca.crt ca.key                 the LIP CA (keep ca.key off the nodes)
#   <node>.crt <node>.key         for each NODE (default: admin registry sender receiver)
#   rogue-ca.crt                  a second, unrelated CA, and
#   rogue-admin.crt/.key          an "admin" certificate signed by it (tests: must be refused)
# A NODE is "<name>[:<role>[+<role>...]][@<node-id>[+<node-id>...]]"; a bare name is
# also its role ("sender-2:sender" names a second sender). Roles are SAN URIs
# lip://role/<role>; "@receiver-1" adds the SAN URI lip://node/receiver-1, the
# node id the certificate may register, heartbeat and leave in the registry
# (common/node/peer_identity.h, docs/nodes.md "Node identity"). Without "@..." the
# registry binds the certificate (by its CN) to the ids it registers first.
# Every certificate is valid for DNS:localhost and IP:127.0.0.1 as server and
# client. EC P-256 keys, 365 days from now; --validity applies to the NODEs
# after it: "expired" (valid 2001..2002) and "future" (valid 2099..2100) make
# certificates that every LIP node and client must refuse (tests).
# --san=DNS:name,IP:addr,... adds those names to the NODEs after it (until the
# next --san; "--san=" adds none): the host names or addresses other nodes dial
# them by, e.g. a Compose service name or a network namespace's address.
set -euo pipefail

if [ $# -lt 1 ]; then
  echo "usage: $0 OUT_DIR [NODE...]" >&2
  exit 2
fi
out="$1"
shift
nodes=("$@")
if [ ${#nodes[@]} -eq 0 ]; then nodes=(admin registry sender receiver); fi
for node in "${nodes[@]}"; do
  case "$node" in
    --validity=current|--validity=expired|--validity=future) ;;
    --san=*)
      IFS=',' read -ra san_list <<< "${node#--san=}"
      for san in ${san_list[@]+"${san_list[@]}"}; do
        if [[ ! "$san" =~ ^(DNS:[A-Za-z0-9.-]+|IP:[0-9A-Fa-f.:]+)$ ]]; then
          echo "make_certs: --san entry '$san' is not DNS:name or IP:address" >&2; exit 2
        fi
      done ;;
    --*) echo "make_certs: unknown option '$node'" >&2; exit 2 ;;
  esac
done
mkdir -p "$out"
cd "$out"
umask 077

make_ca() {  # name subject
  openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$1.key" -out "$1.crt" -days 365 -subj "$2" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

make_node() {  # ca name roles(+-separated) node-ids(+-separated) validity [extra SANs, comma-separated]
  local ca="$1" name="$2" roles="$3" ids="$4" validity="$5" san="DNS:localhost,IP:127.0.0.1"
  if [ -n "${6:-}" ]; then san="$san,$6"; fi
  local role id
  IFS='+' read -ra role_list <<< "$roles"
  for role in "${role_list[@]}"; do
    case "$role" in
      admin|registry|sender|receiver) san="$san,URI:lip://role/$role" ;;
      none) ;;
      *) echo "make_certs: unknown role '$role' for $name" >&2; exit 2 ;;
    esac
  done
  IFS='+' read -ra id_list <<< "$ids"
  for id in "${id_list[@]}"; do
    if [[ ! "$id" =~ ^[A-Za-z0-9._~-]+$ ]]; then
      echo "make_certs: node id '$id' of $name is not [A-Za-z0-9._~-]+" >&2; exit 2
    fi
    san="$san,URI:lip://node/$id"
  done
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$name.key" -out "$name.csr" -subj "/O=LIP/OU=$roles/CN=$name" 2>/dev/null
  cat > "$name.ext" <<EXT
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=$san
EXT
  case "$validity" in
    current)
      openssl x509 -req -in "$name.csr" -CA "$ca.crt" -CAkey "$ca.key" -CAcreateserial \
        -out "$name.crt" -days 365 -extfile "$name.ext" 2>/dev/null ;;
    expired|future)
      # `openssl x509 -req` can only start now; `openssl ca` takes explicit dates.
      local start=20010101000000Z end=20020101000000Z
      if [ "$validity" = future ]; then start=20990101000000Z end=21000101000000Z; fi
      local db="$name.cadb"
      mkdir -p "$db"
      : > "$db/index"
      openssl rand -hex 8 > "$db/serial"
      cat > "$db/ca.cnf" <<CNF
[ca]
default_ca = lip_ca
[lip_ca]
database = $db/index
new_certs_dir = $db
serial = $db/serial
default_md = sha256
policy = lip_policy
unique_subject = no
[lip_policy]
commonName = supplied
organizationName = optional
organizationalUnitName = optional
CNF
      openssl ca -batch -config "$db/ca.cnf" -cert "$ca.crt" -keyfile "$ca.key" -in "$name.csr" \
        -out "$name.crt" -startdate "$start" -enddate "$end" -extfile "$name.ext" -notext \
        2>/dev/null
      rm -rf "$db" ;;
    *) echo "make_certs: unknown validity '$validity'" >&2; exit 2 ;;
  esac
  rm -f "$name.csr" "$name.ext"
}

make_ca ca "/O=LIP/CN=LIP test CA"
validity=current
extra_san=""
made=0
for node in "${nodes[@]}"; do
  case "$node" in
    --validity=*) validity="${node#--validity=}"; continue ;;
    --san=*) extra_san="${node#--san=}"; continue ;;
  esac
  ids=""
  if [[ "$node" == *@* ]]; then ids="${node#*@}"; node="${node%%@*}"; fi
  name="${node%%:*}"
  roles="${node#*:}"
  make_node ca "$name" "$roles" "$ids" "$validity" "$extra_san"
  made=$((made + 1))
done
make_ca rogue-ca "/O=Rogue/CN=Rogue CA"
make_node rogue-ca rogue-admin admin "" current
rm -f ca.srl rogue-ca.srl rogue-ca.key
chmod 644 ./*.crt
echo "make_certs: CA and $made node certificates in $out"
