#!/usr/bin/env bash
# Makes a fresh LIP certificate authority and one certificate per node role.
#
#   bash deploy/certs/make_certs.sh OUT_DIR [NODE...]
#
# OUT_DIR gets:
#   ca.crt ca.key                 the LIP CA (keep ca.key off the nodes)
#   <node>.crt <node>.key         for each NODE (default: admin registry sender receiver)
#   rogue-ca.crt                  a second, unrelated CA, and
#   rogue-admin.crt/.key          an "admin" certificate signed by it (tests: must be refused)
# A NODE is "<name>" or "<name>:<role>[+<role>...]"; a bare name is also its role
# ("sender-2:sender" names a second sender). Roles are SAN URIs lip://role/<role>
# (common/peer_identity.h); every certificate is valid for DNS:localhost and
# IP:127.0.0.1 as server and client. EC P-256 keys, 365 days.
set -euo pipefail

if [ $# -lt 1 ]; then
  echo "usage: $0 OUT_DIR [NODE...]" >&2
  exit 2
fi
out="$1"
shift
nodes=("$@")
if [ ${#nodes[@]} -eq 0 ]; then nodes=(admin registry sender receiver); fi
mkdir -p "$out"
cd "$out"
umask 077

make_ca() {  # name subject
  openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$1.key" -out "$1.crt" -days 365 -subj "$2" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

make_node() {  # ca name roles(+-separated)
  local ca="$1" name="$2" roles="$3" san="DNS:localhost,IP:127.0.0.1"
  local role
  IFS='+' read -ra role_list <<< "$roles"
  for role in "${role_list[@]}"; do
    case "$role" in
      admin|registry|sender|receiver) san="$san,URI:lip://role/$role" ;;
      none) ;;
      *) echo "make_certs: unknown role '$role' for $name" >&2; exit 2 ;;
    esac
  done
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$name.key" -out "$name.csr" -subj "/O=LIP/OU=$roles/CN=$name" 2>/dev/null
  cat > "$name.ext" <<EXT
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=$san
EXT
  openssl x509 -req -in "$name.csr" -CA "$ca.crt" -CAkey "$ca.key" -CAcreateserial \
    -out "$name.crt" -days 365 -extfile "$name.ext" 2>/dev/null
  rm -f "$name.csr" "$name.ext"
}

make_ca ca "/O=LIP/CN=LIP test CA"
for node in "${nodes[@]}"; do
  name="${node%%:*}"
  roles="${node#*:}"
  make_node ca "$name" "$roles"
done
make_ca rogue-ca "/O=Rogue/CN=Rogue CA"
make_node rogue-ca rogue-admin admin
rm -f ca.srl rogue-ca.srl rogue-ca.key
chmod 644 ./*.crt
echo "make_certs: CA and ${#nodes[@]} node certificates in $out"
