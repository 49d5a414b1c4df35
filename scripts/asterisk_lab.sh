#!/usr/bin/env bash
# A real Asterisk next to the CTI server, built from source, for trying the server and
# docs/asterisk.md against the real thing (not part of the test suite: Asterisk is not packaged
# for Debian 12). Everything lives under LAB (default ~/asterisk-lab; set ASTERISK_LAB); nothing
# is installed system-wide, nothing binds beyond 127.0.0.1, and nothing is downloaded except
# Debian packages through apt.
#
#   scripts/asterisk_lab.sh build ASTERISK_SRC PJPROJECT_SRC   configure, compile, install to LAB/prefix
#   scripts/asterisk_lab.sh config                              write LAB/prefix/etc/asterisk/* (below)
#   scripts/asterisk_lab.sh start | stop | cli 'CMD'            run Asterisk in the foreground of a
#                                                               background job (no daemon), log in LAB/asterisk.out
#   scripts/asterisk_lab.sh pjsua                               build pjsua (SIP test phone) from PJPROJECT_SRC
#   scripts/asterisk_lab.sh tls                                 config, but the softphones on wss:// as
#                                                               docs/asterisk.md says: a lab CA and a
#                                                               certificate for 127.0.0.1 (openssl, LAB/keys)
#   scripts/asterisk_lab.sh turn-start | turn-stop              Debian's coturn as the agents' TURN relay
#                                                               (use-auth-secret), log LAB/turnserver.log;
#                                                               with LAB_TURN=1, config/tls give [softphone]
#                                                               turn_urls and ice_transport_policy = "relay"
#
# ASTERISK_SRC: an Asterisk source tree (e.g. `git archive --prefix=asterisk-22.9.0/ 22.9.0 | tar -x`).
# PJPROJECT_SRC: a pjproject source tree of the version Asterisk bundles (third-party/versions.mak,
# PJPROJECT_VERSION: 2.16 for Asterisk 22.9.0). Asterisk's build would download that tarball; we
# pack it from the given tree into the externals cache instead and record its checksum in the
# build copy of Asterisk's .md5 file, so Asterisk's own pjproject patches and config_site.h apply.
#
# LAB_LOAD_AGENTS (default 48): desk phones 2001.. and the [labload]/[lab-load-caller] pieces that
# scripts/asterisk_lab_load.py uses (Asterisk calling itself as the carrier).
#
# Ports (loopback only): AMI 15038, HTTP/websocket 18088 (ws://127.0.0.1:18088/ws), TLS websocket
# 18089 after `tls` (wss://127.0.0.1:18089/ws), SIP UDP 15060, RTP 30000-30999 (LAB_RTP_START,
# LAB_RTP_END); the CTI server's FastAGI on 127.0.0.1:14573; coturn 13478 (LAB_TURN_PORT), relay
# ports 31000-31999 (LAB_TURN_MIN_PORT, LAB_TURN_MAX_PORT), turns: 15349 (LAB_TURN_TLS_PORT; with
# LAB_TURN_TLS=1 the softphones use it). Each has its LAB_*_PORT variable, so
# two labs (ASTERISK_LAB) can run side by side.
set -euo pipefail

LAB="${ASTERISK_LAB:-$HOME/asterisk-lab}"
PREFIX="$LAB/prefix"
ETC="$PREFIX/etc/asterisk"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
AMI_PORT="${LAB_AMI_PORT:-15038}"
HTTP_PORT="${LAB_HTTP_PORT:-18088}"
TLS_PORT="${LAB_TLS_PORT:-18089}"
TLS="${LAB_TLS:-0}"   # 1: wss:// (the `tls` subcommand), else plain ws:// on loopback
KEYS="$LAB/keys"
SIP_PORT="${LAB_SIP_PORT:-15060}"
AGI_PORT="${LAB_AGI_PORT:-14573}"
AMI_SECRET="${LAB_AMI_SECRET:-lab-secret}"
CARRIER_PORT="${LAB_CARRIER_PORT:-15070}"   # pjsua playing the carrier
LOAD_AGENTS="${LAB_LOAD_AGENTS:-48}"   # desk phones 2001.. for scripts/asterisk_lab_load.py
SOFTPHONE_SECRET="${LAB_SOFTPHONE_SECRET:-lab-softphone-secret-0123456789abcdef}"
SOFTPHONE_EXTS="${LAB_SOFTPHONE_EXTS:-1003}"   # browser softphones (pjsip-auth)
# The CTI server's ports: AMI/FastAGI may differ from Asterisk's when asterisk_lab_tap.py relays
# (and records) the bytes in between.
CTI_HTTP_PORT="${LAB_CTI_HTTP_PORT:-18180}"
CTI_AMI_PORT="${LAB_CTI_AMI_PORT:-$AMI_PORT}"
CTI_AGI_PORT="${LAB_CTI_AGI_PORT:-$AGI_PORT}"
RTP_START="${LAB_RTP_START:-30000}"
RTP_END="${LAB_RTP_END:-30999}"
# The agents' TURN relay (coturn, use-auth-secret); LAB_TURN=1 makes the softphones use it only.
TURN="${LAB_TURN:-0}"
TURN_PORT="${LAB_TURN_PORT:-13478}"
TURN_MIN_PORT="${LAB_TURN_MIN_PORT:-31000}"
TURN_MAX_PORT="${LAB_TURN_MAX_PORT:-31999}"
TURN_SECRET="${LAB_TURN_SECRET:-lab-turn-static-auth-secret-0123456789}"
# turns: (TURN over TLS, with the lab's certificate from `tls`) on this port; LAB_TURN_TLS=1
# makes the softphones use only it.
TURN_TLS_PORT="${LAB_TURN_TLS_PORT:-15349}"
TURN_TLS="${LAB_TURN_TLS:-0}"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

apt_deps() {
    local pkgs=(build-essential pkg-config autoconf bzip2 patch libjansson-dev libxml2-dev
                libsqlite3-dev uuid-dev libedit-dev libssl-dev libsrtp2-dev libcurl4-openssl-dev
                libncurses-dev)
    local missing=()
    for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

build() {
    local src="${1:?ASTERISK_SRC}" pjsrc="${2:?PJPROJECT_SRC}"
    src="$(cd "$src" && pwd)"; pjsrc="$(cd "$pjsrc" && pwd)"
    apt_deps
    # shellcheck disable=SC1091
    local pjver; pjver="$(. "$src/third-party/versions.mak"; echo "$PJPROJECT_VERSION")"
    local cache="$LAB/externals"
    mkdir -p "$cache" "$PREFIX"
    if [ ! -f "$cache/pjproject-$pjver.tar.bz2" ]; then
        say "packing pjproject $pjver from $pjsrc into $cache"
        tar -C "$(dirname "$pjsrc")" -cjf "$cache/pjproject-$pjver.tar.bz2" \
            --transform "s,^$(basename "$pjsrc"),pjproject-$pjver," "$(basename "$pjsrc")"
    fi
    # Our tarball is not byte-identical to the one Asterisk's checksum names.
    (cd "$cache" && md5sum "pjproject-$pjver.tar.bz2") > "$src/third-party/pjproject/pjproject-$pjver.tar.bz2.md5"
    cd "$src"
    if [ ! -f config.status ]; then
        say "configure (prefix $PREFIX)"
        nice -n 19 ./configure --prefix="$PREFIX" --with-pjproject-bundled --with-jansson \
            --with-externals-cache="$cache" --without-libjwt --disable-xmldoc >"$LAB/configure.log" 2>&1 \
            || { tail -30 "$LAB/configure.log"; exit 1; }
    fi
    if [ ! -f menuselect.makeopts ]; then
        say "menuselect"
        make menuselect.makeopts >"$LAB/menuselect.log" 2>    make menuselect.makeopts >"$LAB/menuselect.log" 2>&11
    # Only what the lab needs is trimmed; modules needing downloads are off.
    menuselect/menuselect --disable BUILD_NATIVE \
        --disable res_stir_shaken --disable codec_opus --disable codec_silk --disable codec_siren7 \
        --disable codec_siren14 --disable codec_g729a --disable format_mp3 \
        --disable-category MENUSELECT_CORE_SOUNDS --disable-category MENUSELECT_MOH \
        --disable-category MENUSELECT_EXTRA_SOUNDS \
        menuselect.makeopts >>"$LAB/menuselect.log" 2>&1 || true
    fi
    say "make (nice, -j2; log $LAB/make.log)"
    nice -n 19 make -j2 >"$LAB/make.log" 2>&1 || { tail -40 "$LAB/make.log"; exit 1; }
    say "make install"
    make install >"$LAB/install.log" 2>&1 || { tail -40 "$LAB/install.log"; exit 1; }
    say "built: $PREFIX/sbin/asterisk"
}

# The reference files of config/asterisk/ (what docs/asterisk.md tells operators to install), with
# only the substitutions the doc asks for (CTI_HOST, secret, carrier address) and the lab's ports
# and loopback addresses; the lab's own additions are marked "lab:".
config() {
    [ -x "$PREFIX/sbin/asterisk" ] || { echo "build first: $PREFIX/sbin/asterisk missing" >&2; exit 1; }
    local ref="$ROOT/config/asterisk"
    mkdir -p "$ETC" "$LAB/log" "$LAB/run" "$LAB/spool" "$LAB/lib" "$LAB/lib/moh"
    # [directories] without the sample's "(!)": that marks a template, which Asterisk ignores, and
    # every lab then shared the build's compiled-in directories, control socket included (a
    # second lab's `cli` and `stop` reached the first lab's Asterisk).
    cat >"$ETC/asterisk.conf" <<CONF
[directories]
astetcdir => $ETC
astmoddir => $PREFIX/lib/asterisk/modules
astvarlibdir => $LAB/lib
astdbdir => $LAB/lib
astkeydir => $LAB/lib
astdatadir => $PREFIX/var/lib/asterisk
astagidir => $PREFIX/var/lib/asterisk/agi-bin
astspooldir => $LAB/spool
astrundir => $LAB/run
astlogdir => $LAB/log
astsbindir => $PREFIX/sbin

[options]
verbose = 3
CONF
    # Nothing that opens a port we did not configure (IAX2, MGCP, SCCP, DUNDi ... bind all
    # interfaces by default).
    cat >"$ETC/modules.conf" <<'CONF'
[modules]
autoload = yes
noload => chan_iax2.so
noload => chan_mgcp.so
noload => chan_skinny.so
noload => chan_unistim.so
noload => chan_motif.so
noload => chan_audiosocket.so
noload => res_xmpp.so
noload => pbx_dundi.so
noload => res_hep.so
noload => res_hep_pjsip.so
noload => res_hep_rtcp.so
noload => res_pjsip_phoneprov_provider.so
noload => res_phoneprov.so
noload => cdr_radius.so
noload => cel_radius.so
noload => res_config_ldap.so
CONF
    printf '[general]\n[logfiles]\nconsole => notice,warning,error,verbose\nmessages.log => notice,warning,error,verbose\n' \
        >"$ETC/logger.conf"
    # ICE: Asterisk offers every interface's address as a host candidate except loopback, though
    # the lab binds RTP to 127.0.0.1. Each is mapped to 127.0.0.1, as an operator behind a 1:1
    # NAT maps the private address to the public one (docs/asterisk.md "Agents behind NAT"), so
    # a TURN relay (or a browser) reaches Asterisk where it listens.
    {
        printf '[general]\nrtpstart = %s\nrtpend = %s\nicesupport = yes\n' "$RTP_START" "$RTP_END"
        printf '\n[ice_host_candidates]\n'
        { ip -4 -o addr show scope global 2>/dev/null || true; } | awk '{split($4, a, "/"); print a[1] " => 127.0.0.1 ; lab: RTP is bound to loopback"}'
    } >"$ETC/rtp.conf"
    # Stock sounds and music are downloads (menuselect has them off): the lab makes a tone for
    # music on hold; IVR prompts are missing (the server logs prompt_failed and goes on).
    printf '[general]\n[default]\nmode = files\ndirectory = %s\n' "$LAB/lib/moh" >"$ETC/musiconhold.conf"
    "${PYTHON:-python3}" - "$LAB/lib/moh/lab-tone.wav" <<'PY'
import math, struct, sys, wave
w = wave.open(sys.argv[1], "wb"); w.setnchannels(1); w.setsampwidth(2); w.setframerate(8000)
w.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / 8000)
                                              * (i % 8000 < 4000))) for i in range(8000 * 4)))
w.close()
PY
    # AMD() (the dialer context) will not load without amd.conf: its defaults are fine.
    printf '[general]\n' >"$ETC/amd.conf"
    # Reference dialplan: CTI_HOST:4573 -> the server's FastAGI in the lab.
    sed -e "s#CTI_HOST:4573#127.0.0.1:$AGI_PORT#g" "$ref/extensions.conf" >"$ETC/extensions.conf"
    # lab: the load driver's callers (scripts/asterisk_lab_load.py). It originates
    # PJSIP/<DID>@labload, a SIP call from Asterisk to itself that arrives from 127.0.0.1 as the
    # carrier (a real PJSIP/carrier channel in [from-carrier], RFC 4733 DTMF, RTP); once the IVR
    # answers, this side keys "0" (menus: invalid -> retry -> default; main menu: an agent),
    # then stays LAB_STAY seconds more and hangs up (the agent may hang up first).
    cat >>"$ETC/extensions.conf" <<'CONF'

; lab: scripts/asterisk_lab_load.py (not part of the reference dialplan)
[lab-load-caller]
exten => s,1,NoOp(lab load caller ${LAB_ID})
 same => n,Set(I=0)
 same => n(key),SendDTMF(${LAB_KEY})
 same => n,Wait(0.5)
 same => n,Set(I=$[${I} + 1])
 same => n,GotoIf($[${I} < ${LAB_KEYS}]?key)
 same => n,Wait(${LAB_STAY})
 same => n,Hangup()
CONF
    sed -e "s#^port = 5038#port = $AMI_PORT#" -e "s#^secret = change-me#secret = $AMI_SECRET#" \
        "$ref/manager.conf" >"$ETC/manager.conf"
    cp "$ref/queues.conf" "$ETC/queues.conf"
    # features.conf: the reference, plus no transfer announcement (its sound is not installed,
    # and a missing announcement aborts the attended transfer).
    { printf '[general]\ntransferannouncesound = ; lab: no stock sounds\n\n'; cat "$ref/features.conf"; } \
        >"$ETC/features.conf"
    if [ "$TLS" = 1 ]; then
        # http.conf as the reference, TLS on, with the lab's certificate (`tls` made it).
        sed -e "s#^bindport = 8088#bindport = $HTTP_PORT#" \
            -e "s#^tlsbindaddr = 0.0.0.0:8089#tlsbindaddr = 127.0.0.1:$TLS_PORT#" \
            -e "s#/etc/asterisk/keys/#$KEYS/#" \
            "$ref/http.conf" >"$ETC/http.conf"
    else
        # http.conf: plain ws on loopback instead of wss (the doc's TLS listener needs a
        # certificate a browser trusts; [softphone] accepts ws:// to a loopback address).
        sed -e "s#^bindport = 8088#bindport = $HTTP_PORT#" \
            -e 's#^tlsenable = yes.*#tlsenable = no ; lab: plain ws on loopback#' \
            -e "s#^tlsbindaddr = 0.0.0.0:8089#tlsbindaddr = 127.0.0.1:$TLS_PORT#" \
            "$ref/http.conf" >"$ETC/http.conf"
    fi
    # pjsip.conf: lab transport + identification first, then the reference, a second desk phone,
    # the WebRTC templates (ws on loopback) and the softphone agents' sections.
    local media='media_address = 127.0.0.1 ; lab: RTP on loopback\nbind_rtp_to_media_address = yes'
    {
        printf '; lab: all SIP on 127.0.0.1. The carrier is recognised by address, the agents (same\n'
        printf '; address) by the user part of From, so username goes first.\n'
        printf '[global]\ntype = global\nendpoint_identifier_order = username,ip\n\n'
        printf '[transport-udp]\ntype = transport\nprotocol = udp\nbind = 127.0.0.1:%s\n\n' "$SIP_PORT"
        printf '[carrier-identify]\ntype = identify\nendpoint = carrier\nmatch = 127.0.0.1\n\n'
        sed -e "s#^contact = sip:carrier.example.net#contact = sip:127.0.0.1:$CARRIER_PORT ; lab: pjsua#" \
            "$ref/pjsip.conf"
        printf '\n; lab: a second desk phone, as [1001]\n'
        sed -n '/^\[1001\]/,$p' "$ref/pjsip.conf" | sed -e 's/1001/1002/g'
        printf '\n; lab: the load driver (scripts/asterisk_lab_load.py): Asterisk calls itself as\n'
        printf '; the carrier, and desk phones 2001.. as [1001] (pjsua, several accounts each)\n'
        printf '[labload]\ntype = endpoint\ncontext = lab-load-caller\ndisallow = all\nallow = ulaw\n'
        printf 'aors = labload\ndtmf_mode = rfc4733\ndirect_media = no\n\n'
        printf '[labload]\ntype = aor\ncontact = sip:127.0.0.1:%s\n' "$SIP_PORT"
        for n in $(seq 1 "$LOAD_AGENTS"); do
            sed -n '/^\[1001\]/,$p' "$ref/pjsip.conf" | sed -e "s/1001/$((2000 + n))/g" | grep -v '^;'
        done
        printf '\n#include pjsip_webrtc.conf\n#include pjsip_cc_agents.conf\n'
    } | sed -e "/^type = endpoint/a $media" >"$ETC/pjsip.conf"
    local ws_sed='s#^protocol = wss#protocol = ws ; lab: plain ws on loopback#' ws_url="ws://127.0.0.1:$HTTP_PORT/ws"
    if [ "$TLS" = 1 ]; then ws_sed='s#^protocol = wss#&#'; ws_url="wss://127.0.0.1:$TLS_PORT/ws"; fi
    sed -e "$ws_sed" -e 's#^bind = 0.0.0.0#bind = 127.0.0.1#' -e "/^type = endpoint/a $media" \
        "$ref/pjsip_webrtc.conf" >"$ETC/pjsip_webrtc.conf"
    (cd "$ROOT" && CTI_SOFTPHONE__PASSWORD_SECRET="$SOFTPHONE_SECRET" \
        "${PYTHON:-.venv/bin/python}" run_server.py softphone pjsip-auth $SOFTPHONE_EXTS) \
        >"$ETC/pjsip_cc_agents.conf"
    chmod 600 "$ETC/pjsip_cc_agents.conf"
    # The CTI server's side: run_server.py --config "$LAB/cti-lab.toml" (not --demo).
    cat >"$LAB/cti-lab.toml" <<CONF
# The CTI server against the lab Asterisk (scripts/asterisk_lab.sh). Secrets as env vars:
#   CTI_AMI__SECRET=$AMI_SECRET CTI_SOFTPHONE__PASSWORD_SECRET=...
[server]
host = "127.0.0.1"
port = $CTI_HTTP_PORT
data_dir = "$LAB/cti-data"

[ami]
host = "127.0.0.1"
port = $CTI_AMI_PORT
username = "cti"

[fastagi]
host = "127.0.0.1"
port = $CTI_AGI_PORT

[auth]
bootstrap_admin_user = "admin"

[ivr]
hours_override = "open"

[softphone]
enabled = true
ws_url = "$ws_url"
sip_domain = "127.0.0.1"
CONF
    if [ "$TURN" = 1 ]; then
        # lab: the agents' media only through the lab's coturn (turn-start); its secret as
        # CTI_SOFTPHONE__TURN_SECRET=$TURN_SECRET.
        local turn_url="turn:127.0.0.1:$TURN_PORT?transport=udp"
        [ "$TURN_TLS" = 1 ] && turn_url="turns:127.0.0.1:$TURN_TLS_PORT?transport=tcp"
        printf 'turn_urls = ["%s"]\nice_transport_policy = "relay"\n' "$turn_url" \
            >>"$LAB/cti-lab.toml"
    fi
    say "configuration written to $ETC and $LAB/cti-lab.toml"
}

# A private CA and a certificate for 127.0.0.1/localhost signed by it, made here with openssl
# (nothing downloaded); then `config` with http.conf's TLS listener and the wss transport. A
# browser trusts the lab's certificate only if told to: import LAB/keys/ca.crt, or (headless
# chromium, scripts/asterisk_lab_softphone.py) pin its key with
# --ignore-certificate-errors-spki-list=$(cat LAB/keys/asterisk.spki), which accepts this one
# certificate and no other.
tls() {
    mkdir -p "$KEYS"
    if [ ! -f "$KEYS/asterisk.crt" ]; then
        say "lab CA and certificate for 127.0.0.1 in $KEYS"
        openssl req -x509 -newkey rsa:2048 -nodes -days 90 -subj "/CN=callcenter lab CA" \
            -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
            -keyout "$KEYS/ca.key" -out "$KEYS/ca.crt" 2>/dev/null
        openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
            -keyout "$KEYS/asterisk.key" -out "$KEYS/asterisk.csr" 2>/dev/null
        printf 'subjectAltName = IP:127.0.0.1, DNS:localhost\nextendedKeyUsage = serverAuth\nbasicConstraints = CA:FALSE\n' \
            >"$KEYS/asterisk.ext"
        openssl x509 -req -in "$KEYS/asterisk.csr" -CA "$KEYS/ca.crt" -CAkey "$KEYS/ca.key" \
            -CAcreateserial -days 90 -sha256 -extfile "$KEYS/asterisk.ext" -out "$KEYS/asterisk.crt" 2>/dev/null
        chmod 600 "$KEYS/ca.key" "$KEYS/asterisk.key"
    fi
    openssl x509 -in "$KEYS/asterisk.crt" -pubkey -noout | openssl pkey -pubin -outform der \
        | openssl dgst -sha256 -binary | base64 >"$KEYS/asterisk.spki"
    TLS=1 config
    say "wss://127.0.0.1:$TLS_PORT/ws; certificate $KEYS/asterisk.crt (CA $KEYS/ca.crt)," \
        "SPKI pin $(cat "$KEYS/asterisk.spki")"
}

# coturn as docs/asterisk.md "Agents behind NAT" configures it, on loopback: use-auth-secret (the
# server hands each desktop its own expiring credentials), no TLS listeners or CLI. Lab only:
# allow-loopback-peers, since the lab's Asterisk (the relay's peer) is on 127.0.0.1.
turn_start() {
    command -v turnserver >/dev/null 2>&1 || { echo "install Debian's coturn" >&2; exit 1; }
    if [ -f "$LAB/turnserver.pid" ] && kill -0 "$(cat "$LAB/turnserver.pid")" 2>/dev/null; then
        echo "already running: pid $(cat "$LAB/turnserver.pid")"; return 0
    fi
    mkdir -p "$LAB"
    local tls_opts=(--no-tls)
    if [ -f "$KEYS/asterisk.crt" ]; then   # `tls` made it: also turns: with it
        tls_opts=(--tls-listening-port="$TURN_TLS_PORT" --cert="$KEYS/asterisk.crt"
                  --pkey="$KEYS/asterisk.key")
    fi
    nohup turnserver -n --listening-ip=127.0.0.1 --relay-ip=127.0.0.1 "${tls_opts[@]}" \
        --listening-port="$TURN_PORT" --min-port="$TURN_MIN_PORT" --max-port="$TURN_MAX_PORT" \
        --use-auth-secret --static-auth-secret="$TURN_SECRET" --realm=callcenter.lab \
        --allow-loopback-peers --no-cli --no-dtls --no-tcp-relay --fingerprint \
        --db="$LAB/turndb" --log-file="$LAB/turnserver.log" --simple-log --no-stdout-log \
        --verbose --no-software-attribute --pidfile="$LAB/turnserver.coturn.pid" \
        >"$LAB/turnserver.out" 2>&1 &
    echo $! >"$LAB/turnserver.pid"
    sleep 1
    kill -0 "$(cat "$LAB/turnserver.pid")" || { tail -20 "$LAB/turnserver.out"; exit 1; }
    [ -f "$KEYS/asterisk.crt" ] && say "turns:127.0.0.1:$TURN_TLS_PORT?transport=tcp (certificate $KEYS/asterisk.crt)"
    say "coturn pid $(cat "$LAB/turnserver.pid"): turn:127.0.0.1:$TURN_PORT?transport=udp," \
        "relay ports $TURN_MIN_PORT-$TURN_MAX_PORT; CTI_SOFTPHONE__TURN_SECRET=$TURN_SECRET"
}

turn_stop() {
    [ -f "$LAB/turnserver.pid" ] || { echo "not running"; return 0; }
    local pid; pid="$(cat "$LAB/turnserver.pid")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid"; fi
    rm -f "$LAB/turnserver.pid"; say "coturn stopped"
}

start() {
    if [ -f "$LAB/asterisk.pid" ] && kill -0 "$(cat "$LAB/asterisk.pid")" 2>/dev/null; then
        echo "already running: pid $(cat "$LAB/asterisk.pid")"; return 0
    fi
    # -f: no fork (a plain background job, not a daemon); -n: no colour; -g: core dumps.
    nohup "$PREFIX/sbin/asterisk" -C "$ETC/asterisk.conf" -f -n -g -vvv >"$LAB/asterisk.out" 2>&1 &
    echo $! >"$LAB/asterisk.pid"
    for _ in $(seq 1 60); do
        if cli 'core waitfullybooted' >/dev/null 2>&1; then
            say "Asterisk running, pid $(cat "$LAB/asterisk.pid"): AMI 127.0.0.1:$AMI_PORT," \
                "SIP udp 127.0.0.1:$SIP_PORT, websocket: $(grep -o 'wss*://[^"]*' "$LAB/cti-lab.toml")"
            return 0
        fi
        sleep 1
    done
    tail -30 "$LAB/asterisk.out"; exit 1
}

stop() {
    [ -f "$LAB/asterisk.pid" ] || { echo "not running"; return 0; }
    local pid; pid="$(cat "$LAB/asterisk.pid")"
    cli 'core stop now' >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid"; fi
    rm -f "$LAB/asterisk.pid"; say "stopped"
}

cli() { "$PREFIX/sbin/asterisk" -C "$ETC/asterisk.conf" -rx "$*"; }

# pjsua, the SIP test phone (desk phones, the carrier), from its own build of the same pjproject:
# Asterisk's bundled build leaves out G.711 and the applications.
build_pjsua() {
    local pjsrc="${1:?PJPROJECT_SRC}"
    pjsrc="$(cd "$pjsrc" && pwd)"
    local dir="$LAB/pjsua-build/$(basename "$pjsrc")"
    mkdir -p "$LAB/pjsua-build" "$LAB/bin"
    [ -d "$dir" ] || cp -a "$pjsrc" "$dir"
    cd "$dir"
    local site='#define PJSUA_MAX_CALLS 32'
    # Rewritten only when it differs: a new timestamp would rebuild everything.
    [ "$(cat pjlib/include/pj/config_site.h 2>/dev/null)" = "$site" ] || \
        printf '%s\n' "$site" >pjlib/include/pj/config_site.h
    nice -n 19 ./configure --disable-video --disable-sound --disable-libsrtp --disable-speex-codec \
        --disable-speex-aec --disable-gsm-codec --disable-ilbc-codec --disable-l16-codec \
        --disable-g722-codec --disable-g7221-codec --disable-opencore-amr --disable-silk \
        --disable-opus --disable-bcg729 --disable-libyuv --disable-libwebrtc --disable-upnp \
        --disable-ffmpeg --disable-v4l2 --disable-openh264 --disable-sdl >"$LAB/pjsua-configure.log" 2>&1
    nice -n 19 make dep >"$LAB/pjsua-make.log" 2>&1
    nice -n 19 make -j2 >>"$LAB/pjsua-make.log" 2>&1 || { tail -30 "$LAB/pjsua-make.log"; exit 1; }
    cp pjsip-apps/bin/pjsua-* "$LAB/bin/pjsua"
    say "pjsua: $LAB/bin/pjsua"
}

case "${1:-}" in
    build) shift; build "$@" ;;
    config) config ;;
    tls) tls ;;
    start) start ;;
    stop) stop ;;
    cli) shift; cli "$@" ;;
    pjsua) shift; build_pjsua "$@" ;;
    turn-start) turn_start ;;
    turn-stop) turn_stop ;;
    *) sed -n '2,34p' "$0"; exit 2 ;;
esac
