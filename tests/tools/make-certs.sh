#!/bin/sh
# make-certs.sh OUTDIR: test TLS material made with openssl at test time.
#   ca.pem/ca.key          a throw-away CA (10 days, ECDSA P-256 keys)
#   server.pem/server.key  signed by it, SAN localhost, 127.0.0.1, ::1,
#                          sip.test (for RFC 3263 tests)
#   client.pem/client.key  signed by it, for mutual TLS tests
# Never use these outside tests: the keys sit unencrypted in OUTDIR.
set -eu
out=${1:?usage: make-certs.sh OUTDIR}
mkdir -p "$out"
cd "$out"
days=10
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.pem \
	-days $days -subj "/CN=cvoip test CA" \
	-addext "basicConstraints=critical,CA:TRUE" \
	-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
mk() { # name cn san eku
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$1.key" -out "$1.csr" \
		-subj "/CN=$2" 2>/dev/null
	printf 'subjectAltName=%s\nextendedKeyUsage=%s\nbasicConstraints=CA:FALSE\n' \
		"$3" "$4" > "$1.ext"
	openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial \
		-out "$1.pem" -days $days -extfile "$1.ext" 2>/dev/null
	rm -f "$1.csr" "$1.ext"
}
mk server localhost "DNS:localhost,DNS:sip.test,IP:127.0.0.1,IP:::1" serverAuth
mk client "cvoip test client" "DNS:client.test" clientAuth
rm -f ca.srl
chmod 600 ./*.key
echo "certificates in $out: ca.pem server.pem server.key client.pem client.key"
