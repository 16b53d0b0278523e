#!/bin/sh
# `cvoip sip-parse` over the torture corpus: exit codes and verdict lines
# match tests/sip/torture/EXPECTED; usage and I/O errors exit 2.
set -u
bin="${CV_BIN_DIR:?}/cvoip"
dir="${CV_SOURCE_DIR:?}/tests/sip/torture"
[ -x "$bin" ] || { echo "no $bin: skipped"; exit 77; }
fail=0
while read -r file exp _; do
	case "$file" in '#'*|'') continue ;; esac
	out=$("$bin" sip-parse --quiet "$dir/$file"); rc=$?
	case "$exp" in
	valid) want_rc=0; want="valid" ;;
	drop) want_rc=1; want="drop:" ;;
	*) want_rc=1; want="$exp " ;;
	esac
	case "$out" in "$want"*) ;; *) echo "$file: output '$out', want '$want...'"; fail=1 ;; esac
	[ "$rc" -eq "$want_rc" ] || { echo "$file: exit $rc, want $want_rc"; fail=1; }
done < "$dir/EXPECTED"
# JSON output parses and carries the verdict
"$bin" sip-parse "$dir/clerr.sip" 2>/dev/null | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["valid"] is False and d["verdict"]["status"]==400' || { echo "json output"; fail=1; }
"$bin" sip-parse "$dir/wsinv.sip" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["valid"] and d["via_count"]==3 and d["max_forwards"]==68' || { echo "json wsinv"; fail=1; }
# stdin, the exact verdict line of the issue, usage and I/O errors
out=$("$bin" sip-parse --quiet - < "$dir/clerr.sip")
[ "$out" = "400 Bad Request: Content-Length larger than message" ] || { echo "stdin: $out"; fail=1; }
"$bin" sip-parse --quiet /nonexistent/file 2>/dev/null; [ $? -eq 2 ] || { echo "missing file must exit 2"; fail=1; }
"$bin" sip-parse --bogus 2>/dev/null; [ $? -eq 2 ] || { echo "bad option must exit 2"; fail=1; }
exit $fail
