#!/bin/sh
# Makes the call center's sounds (docs/callcenter.md): music on hold (a
# short melody from sox) and spoken prompts (espeak-ng), all 8 kHz mono
# 16-bit WAV, the rate G.711 carries. Usage: mksounds.sh OUTDIR
set -eu
out=${1:?usage: mksounds.sh OUTDIR}
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# music on hold: an arpeggio in C major and A minor, 0.3 s per note with a
# gentle fade, 7.2 s in all, made to loop
i=0
for f in 262 330 392 523 392 330 220 262 330 440 330 262 175 220 262 349 262 220 196 247 294 392 294 247; do
	sox -n -r 8000 -c 1 -b 16 "$tmp/n$(printf %02d $i).wav" \
		synth 0.3 sine $f fade q 0.02 0.3 0.08 vol 0.35
	i=$((i + 1))
done
sox "$tmp"/n*.wav "$out/moh.wav"
say() {
	espeak-ng -v en -s 150 -w "$tmp/say.wav" "$2"
	sox "$tmp/say.wav" -r 8000 -c 1 -b 16 "$out/$1.wav" vol 0.8
}
say hold "Thank you for holding. An agent will be with you shortly."
n=1
for w in one two three four five six seven eight nine; do
	say "position-$n" "You are caller number $w in the queue."
	n=$((n + 1))
done
say position-many "There are more than nine callers ahead of you. Please hold."
say busy "All our agents are busy. Please call again later. Goodbye."
say closed "Nobody can take your call right now. Goodbye."
say login "Logged in."
say logout "Logged out."
say pause "Paused."
say resume "Resumed."
