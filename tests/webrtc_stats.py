"""getStats() of the softphone's call in a page, for the browser tests and the lab driver
(scripts/asterisk_lab_softphone.py): which candidate pair carries the media, RTP counts, codecs.
"""

from __future__ import annotations

# Every RTCPeerConnection the page makes, kept for getStats() (the softphone module does not
# expose its call's connection; this hook is the check's, not the product's).
TRACK_PCS = """
(() => {
  const Orig = window.RTCPeerConnection;
  window.__pcs = [];
  class Tracked extends Orig {
    constructor(...args) { super(...args); window.__pcs.push(this); }
  }
  window.RTCPeerConnection = Tracked;
})();
"""

STATS = """
async () => {
  const pc = window.__pcs[window.__pcs.length - 1];
  if (!pc) return null;
  const out = {inbound: null, outbound: null, pair: null, transport: null, codecs: [],
               local_candidate: null, remote_candidate: null,
               signaling: pc.signalingState, ice: pc.iceConnectionState,
               connection: pc.connectionState,
               policy: pc.getConfiguration().iceTransportPolicy,
               remote_sdp: pc.remoteDescription && pc.remoteDescription.sdp};
  const report = await pc.getStats();
  const byId = new Map();
  report.forEach((s) => byId.set(s.id, s));
  report.forEach((s) => {
    if (s.type === 'inbound-rtp' && s.kind === 'audio') out.inbound = s;
    else if (s.type === 'outbound-rtp' && s.kind === 'audio') out.outbound = s;
    else if (s.type === 'transport') out.transport = s;
    else if (s.type === 'codec') out.codecs.push(s.mimeType + '/' + s.clockRate);
  });
  if (out.transport && out.transport.selectedCandidatePairId) {
    out.pair = byId.get(out.transport.selectedCandidatePairId) || null;
    if (out.pair) {
      out.local_candidate = byId.get(out.pair.localCandidateId) || null;
      out.remote_candidate = byId.get(out.pair.remoteCandidateId) || null;
    }
  }
  return JSON.parse(JSON.stringify(out));
}
"""
