// The agent desktop's browser softphone: JsSIP registering to Asterisk's PJSIP over WSS.
//
// An ES module without a build step, on the pages' shared app.js (REST with the session's token)
// and i18n.js (zh-CN/en texts, phone number formatting). JsSIP is the pinned npm bundle the server
// serves at /vendor/jssip.min.js (a classic script defining the global JsSIP; loaded on demand).
// The desktop page calls
//
//     const phone = await mountIfEnabled(document.getElementById('softphone'));
//
// which asks GET /api/softphone/config and, when the server says enabled, loads JsSIP and calls
// mount(element, config). Without a softphone for this user it hides the element and returns null
// (the agent works with a desk phone). `phone` has answer(), decline(), hangup(), toggleHold(),
// toggleMute(), dtmf(tone), call(number), stop(), `state` (the call: 'idle', 'incoming',
// 'calling', 'in_call') and `status` (registration, held, muted, ringing too), for the page's
// keyboard shortcuts. The element receives a 'softphone' CustomEvent on every change: detail {type:
// 'registration'|'incoming'|'call'|'dtmf'|'ended', ...}, so the page can raise a browser
// notification for an incoming call in a hidden tab. On a page that is not a secure context
// (http:// other than localhost) browsers refuse the microphone: the panel then does not register
// and shows registration state 'insecure' with the reason (mediaAvailable()).

import { api } from '/static/app.js';
import { addStrings, fmtPhone, onLanguageChange, t as translate } from '/static/i18n.js';

const LABELS = {
  en: {
    title: 'Softphone',
    connecting: 'Connecting…',
    connected: 'Connected, not registered',
    registered: 'Registered',
    unregistered: 'Not registered',
    failed: 'Registration failed',
    disconnected: 'Disconnected from the phone server',
    never_reached: 'never reached it: check the network, and that this computer trusts the phone server\'s certificate',
    incoming: 'Incoming call',
    calling: 'Calling…',
    in_call: 'In call',
    on_hold: 'On hold',
    answer: 'Answer',
    decline: 'Decline',
    hangup: 'Hang up',
    hold: 'Hold',
    unhold: 'Resume',
    mute: 'Mute',
    unmute: 'Unmute',
    keypad: 'Keypad',
    number: 'Number to call',
    call: 'Call',
    bad_number: 'Digits, *, # and a leading + only',
    ended: 'Call ended',
    no_microphone: 'No microphone: allow it for this site',
    unknown_caller: 'Unknown number',
    dtmf_failed: 'The key could not be sent',
    insecure: 'Unavailable: open this page over HTTPS (browsers give the microphone to secure pages only)',
  },
  'zh-CN': {
    title: '软电话',
    connecting: '正在连接…',
    connected: '已连接，未注册',
    registered: '已注册',
    unregistered: '未注册',
    failed: '注册失败',
    disconnected: '与电话服务器断开',
    never_reached: '从未连上：请检查网络，以及本电脑是否信任电话服务器的证书',
    incoming: '来电',
    calling: '正在呼叫…',
    in_call: '通话中',
    on_hold: '保持中',
    answer: '接听',
    decline: '拒接',
    hangup: '挂断',
    hold: '保持',
    unhold: '恢复',
    mute: '静音',
    unmute: '取消静音',
    keypad: '拨号盘',
    number: '拨打号码',
    call: '呼叫',
    bad_number: '只能输入数字、*、# 和开头的 +',
    ended: '通话已结束',
    no_microphone: '没有麦克风：请允许本网站使用麦克风',
    unknown_caller: '未知号码',
    dtmf_failed: '按键未能发送',
    insecure: '不可用：请通过 HTTPS 打开本页面（浏览器只向安全页面提供麦克风）',
  },
};

addStrings(Object.fromEntries(Object.entries(LABELS).map(([lang, table]) =>
  [lang, Object.fromEntries(Object.entries(table).map(([k, v]) => [`softphone.${k}`, v]))])));
const t = (key) => translate(`softphone.${key}`);

const KEYS = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '0', '#'];
const DIALABLE = /^\+?[0-9*#]{1,32}$/;

// attrs: 'label' = a text key (re-translated on a language switch), 'labelAttrs' = attributes
// that take the same text (aria-label, placeholder).
function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'text') node.textContent = v;
    else if (k === 'hidden') node.hidden = Boolean(v);
    else if (k === 'label') node.dataset.spLabel = v;
    else if (k === 'labelAttrs') node.dataset.spLabelAttrs = v;
    else node.setAttribute(k, v);
  }
  for (const child of children) node.append(child);
  relabel(node);
  return node;
}

function relabel(node) {
  const key = node.dataset.spLabel;
  if (!key) return;
  const text = t(key);
  if (node.dataset.spLabelAttrs) {
    for (const attr of node.dataset.spLabelAttrs.split(',')) node.setAttribute(attr, text);
  } else {
    node.textContent = text;
  }
}

let jssipLoading = null;

/** The global JsSIP, loading /vendor/jssip.min.js first if the page has not. */
export function loadJsSIP() {
  if (globalThis.JsSIP) return Promise.resolve(globalThis.JsSIP);
  jssipLoading = jssipLoading || new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = '/vendor/jssip.min.js';
    script.onload = () => resolve(globalThis.JsSIP);
    script.onerror = () => {
      jssipLoading = null;
      reject(new Error('cannot load /vendor/jssip.min.js: run `npm ci` on the server'));
    };
    document.head.append(script);
  });
  return jssipLoading;
}

/** Mount the softphone when the server has one for this user; else hide `element`, null. */
export async function mountIfEnabled(element, options = {}) {
  const config = await api('/api/softphone/config');
  if (!config || !config.enabled) {
    element.hidden = true;
    return null;
  }
  await loadJsSIP();
  element.hidden = false;
  return mount(element, config, options);
}

// A ring made with WebAudio (no sound file): two short 440/480 Hz bursts every 3 s.
class Ringer {
  constructor() { this.ctx = null; this.timer = null; }

  start() {
    if (this.timer !== null) return;
    try {
      this.ctx = this.ctx || new AudioContext();
      if (this.ctx.state === 'suspended') this.ctx.resume().catch(() => {});
    } catch (e) {
      return; // no audio output: the visible alert still shows
    }
    const burst = () => {
      const now = this.ctx.currentTime;
      for (const start of [0, 0.5]) {
        const gain = this.ctx.createGain();
        gain.gain.setValueAtTime(0, now + start);
        gain.gain.linearRampToValueAtTime(0.2, now + start + 0.02);
        gain.gain.setValueAtTime(0.2, now + start + 0.38);
        gain.gain.linearRampToValueAtTime(0, now + start + 0.4);
        gain.connect(this.ctx.destination);
        for (const freq of [440, 480]) {
          const osc = this.ctx.createOscillator();
          osc.frequency.value = freq;
          osc.connect(gain);
          osc.start(now + start);
          osc.stop(now + start + 0.4);
        }
      }
    };
    burst();
    this.timer = setInterval(burst, 3000);
  }

  stop() {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  get ringing() { return this.timer !== null; }
}

function callerOf(session) {
  const id = session.remote_identity;
  const number = (id && id.uri && id.uri.user) || '';
  const name = (id && id.display_name) || '';
  return { number, name };
}

/** Whether this page may use a microphone and WebRTC (a secure context with getUserMedia). */
export function mediaAvailable() {
  return globalThis.isSecureContext !== false && typeof RTCPeerConnection === 'function'
    && Boolean(navigator.mediaDevices && navigator.mediaDevices.getUserMedia);
}

// The panel's phone when it cannot work (mediaAvailable() false): the same API, doing nothing.
function unavailablePhone(state, explain) {
  return {
    get state() { return 'idle'; },
    get status() { return { ...state, ringing: false }; },
    get ua() { return null; },
    answer: () => {},
    decline: () => {},
    hangup: () => {},
    toggleHold: () => {},
    toggleMute: () => {},
    dtmf: () => {},
    call: () => explain(),
    stop: () => {},
  };
}

/**
 * The softphone panel in `element` for `config` (GET /api/softphone/config, enabled).
 * options: {debug: true} logs JsSIP's SIP traffic to the console; {stylesheet: false} skips
 * softphone.css.
 */
export function mount(element, config, options = {}) {
  const JsSIP = globalThis.JsSIP;
  if (!JsSIP) throw new Error('JsSIP is not loaded: use mountIfEnabled, or load /vendor/jssip.min.js');
  if (!config || !config.enabled) throw new Error('the softphone is not enabled for this user');
  const emit = (detail) => {
    element.dispatchEvent(new CustomEvent('softphone', { detail }));
    if (options.onEvent) options.onEvent(detail);
  };

  // ---- the panel --------------------------------------------------------------------------
  if (options.stylesheet !== false && !document.querySelector('link[data-softphone-css]')) {
    document.head.append(el('link', { rel: 'stylesheet', href: '/static/softphone.css',
      'data-softphone-css': '' }));
  }
  const status = el('div', { class: 'sp-status', role: 'status', 'aria-live': 'polite',
    'data-state': 'connecting' });
  const identity = el('div', { class: 'sp-identity', text: config.extension });
  const caller = el('span', { class: 'sp-caller' });
  const callerName = el('span', { class: 'sp-caller-name' });
  const callLabel = el('span', { class: 'sp-call-label' });
  const timer = el('span', { class: 'sp-timer' });
  // The digits the keypad has sent in this call, as the browser's DTMF sender plays them.
  const sentTones = el('div', { class: 'sp-dtmf', 'aria-live': 'polite' });
  const callBox = el('div', { class: 'sp-call', hidden: true, 'data-state': 'idle' },
    [callLabel, ' ', caller, ' ', callerName, ' ', timer, sentTones]);
  const btn = (action, extra = {}) =>
    el('button', { type: 'button', 'data-action': action, ...extra });
  const answerBtn = btn('answer', { class: 'sp-answer', hidden: true, label: 'answer' });
  const declineBtn = btn('decline', { class: 'sp-decline', hidden: true, label: 'decline' });
  const hangupBtn = btn('hangup', { class: 'sp-hangup', hidden: true, label: 'hangup' });
  const holdBtn = btn('hold', { hidden: true, 'aria-pressed': 'false' });
  const muteBtn = btn('mute', { hidden: true, 'aria-pressed': 'false' });
  const controls = el('div', { class: 'sp-controls' },
    [answerBtn, declineBtn, hangupBtn, holdBtn, muteBtn]);
  const keypad = el('div', { class: 'sp-keypad', role: 'group', label: 'keypad',
    labelAttrs: 'aria-label' }, KEYS.map((k) => btn('dtmf', { 'data-tone': k, text: k })));
  const numberInput = el('input', { type: 'tel', class: 'sp-number', name: 'number',
    autocomplete: 'off', label: 'number', labelAttrs: 'aria-label,placeholder',
    maxlength: '33' });
  const dialForm = el('form', { class: 'sp-dial' },
    [numberInput, el('button', { type: 'submit', 'data-action': 'call', label: 'call' })]);
  const message = el('div', { class: 'sp-message', role: 'alert' });
  const audio = el('audio', { class: 'sp-remote-audio', autoplay: '' });
  audio.hidden = true;
  const panel = el('div', { class: 'softphone' },
    [el('h2', { class: 'sp-title', label: 'title' }), status, identity, callBox, controls,
      keypad, dialForm, message, audio]);
  element.replaceChildren(panel);

  const ringer = new Ringer();
  let session = null;
  let timerHandle = null;
  const state = { registration: 'connecting', call: 'idle', held: false, muted: false };

  let statusDetail = '';
  // A detail that is a text key (never_reached) is re-translated with the status.
  const showStatus = () => {
    const key = state.registration;
    const detail = statusDetail === 'never_reached' ? t('never_reached') : statusDetail;
    status.textContent = detail ? `${t(key)}: ${detail}` : t(key);
  };
  const setStatus = (key, detail = '') => {
    state.registration = key;
    statusDetail = detail;
    status.dataset.state = key;
    showStatus();
    emit({ type: 'registration', state: key, detail });
  };
  setStatus('connecting');
  const say = (text) => { message.textContent = text || ''; };

  const render = () => {
    const c = state.call;
    callBox.hidden = c === 'idle';
    callBox.dataset.state = c;
    callLabel.textContent = c === 'incoming' ? t('incoming')
      : c === 'calling' ? t('calling') : state.held ? t('on_hold') : t('in_call');
    answerBtn.hidden = c !== 'incoming';
    declineBtn.hidden = c !== 'incoming';
    hangupBtn.hidden = c === 'idle' || c === 'incoming';
    holdBtn.hidden = c !== 'in_call';
    muteBtn.hidden = c !== 'in_call';
    holdBtn.textContent = state.held ? t('unhold') : t('hold');
    holdBtn.setAttribute('aria-pressed', String(state.held));
    muteBtn.textContent = state.muted ? t('unmute') : t('mute');
    muteBtn.setAttribute('aria-pressed', String(state.muted));
    for (const k of keypad.querySelectorAll('button')) k.disabled = c !== 'in_call';
    panel.dataset.call = c;
  };

  const startTimer = () => {
    const since = Date.now();
    const tick = () => {
      const s = Math.floor((Date.now() - since) / 1000);
      timer.textContent = `${String(Math.floor(s / 60)).padStart(2, '0')}:` +
        `${String(s % 60).padStart(2, '0')}`;
    };
    tick();
    timerHandle = setInterval(tick, 1000);
  };
  const stopTimer = () => {
    if (timerHandle !== null) clearInterval(timerHandle);
    timerHandle = null;
    timer.textContent = '';
  };

  const attachAudio = (pc) => {
    pc.addEventListener('track', (e) => {
      if (e.track.kind === 'audio') audio.srcObject = e.streams[0] || new MediaStream([e.track]);
    });
  };

  const watchTones = (s) => {
    const sender = s.connection && s.connection.getSenders()
      .find((x) => x.track && x.track.kind === 'audio' && x.dtmf);
    if (!sender) return;
    sender.dtmf.addEventListener('tonechange', (e) => {
      if (e.tone && session === s) {
        sentTones.textContent += e.tone;
        emit({ type: 'dtmf', tone: e.tone });
      }
    });
  };

  // STUN/TURN servers. TURN credentials (config.ice_valid_s > 0) are the agent's own and expire:
  // coturn checks them when a call's relay is allocated, so before a call, once half of their
  // lifetime has passed, the page asks the server for new ones (keeping the old on failure).
  const ice = { servers: config.ice_servers || [], policy: config.ice_transport_policy || 'all',
    validS: config.ice_valid_s || 0, since: Date.now(), refreshes: 0 };
  let iceRefresh = null;
  const refreshIce = () => {
    if (!ice.validS || Date.now() - ice.since < ice.validS * 500) return Promise.resolve();
    iceRefresh = iceRefresh || api('/api/softphone/config').then((fresh) => {
      if (fresh && fresh.enabled) {
        ice.servers = fresh.ice_servers || [];
        ice.policy = fresh.ice_transport_policy || 'all';
        ice.validS = fresh.ice_valid_s || 0;
        ice.since = Date.now();
        ice.refreshes += 1;
      }
    }).catch(() => {}).finally(() => { iceRefresh = null; });
    return iceRefresh;
  };
  const mediaOptions = () => ({
    mediaConstraints: { audio: true, video: false },
    pcConfig: {
      iceServers: ice.servers.map((s) => {
        const entry = { urls: s.urls };
        if (s.username) { entry.username = s.username; entry.credential = s.credential; }
        return entry;
      }),
      iceTransportPolicy: ice.policy === 'relay' ? 'relay' : 'all',
    },
    rtcOfferConstraints: { offerToReceiveAudio: true, offerToReceiveVideo: false },
  });

  const track = (s, direction) => {
    session = s;
    state.held = false;
    state.muted = false;
    const who = callerOf(s);
    caller.dataset.number = who.number;
    caller.textContent = who.number ? fmtPhone(who.number) : t('unknown_caller');
    callerName.textContent = who.name && who.name !== who.number ? who.name : '';
    if (s.connection) attachAudio(s.connection);
    s.on('peerconnection', (e) => attachAudio(e.peerconnection));
    s.on('accepted', () => { ringer.stop(); });
    s.on('confirmed', () => {
      ringer.stop();
      watchTones(s);
      state.call = 'in_call';
      startTimer();
      render();
      emit({ type: 'call', state: 'in_call', ...who });
    });
    s.on('newDTMF', (e) => {  // SIP INFO tones (RFC 4733 ones are seen by watchTones)
      if (e.originator === 'local' && session === s) {
        sentTones.textContent += e.dtmf.tone;
        emit({ type: 'dtmf', tone: e.dtmf.tone });
      }
    });
    s.on('hold', () => { state.held = true; render(); });
    s.on('unhold', () => { state.held = false; render(); });
    s.on('muted', () => { state.muted = true; render(); });
    s.on('unmuted', () => { state.muted = false; render(); });
    const end = (e) => {
      if (session !== s) return;
      ringer.stop();
      stopTimer();
      session = null;
      state.call = 'idle';
      state.held = false;
      state.muted = false;
      audio.srcObject = null;
      caller.textContent = '';
      caller.dataset.number = '';
      callerName.textContent = '';
      sentTones.textContent = '';
      render();
      const cause = (e && e.cause) || '';
      if (cause === JsSIP.C.causes.USER_DENIED_MEDIA_ACCESS) say(t('no_microphone'));
      else say(e && e.originator !== 'local' && cause ? `${t('ended')} (${cause})` : t('ended'));
      emit({ type: 'ended', cause, originator: e && e.originator, ...who });
    };
    s.on('ended', end);
    s.on('failed', end);
    state.call = direction === 'incoming' ? 'incoming' : 'calling';
    say('');
    render();
    if (direction === 'incoming') {
      ringer.start();
      refreshIce();  // while it rings, so the answer does not wait
      emit({ type: 'incoming', ...who });
    }
  };

  // ---- JsSIP ------------------------------------------------------------------------------
  if (!options.debug) JsSIP.debug.disable('JsSIP:*');
  // Browsers give the microphone (getUserMedia) to secure pages only: https, or localhost. A
  // panel registered without it rings, then fails every answer ("Internal Error") and the caller
  // is dropped: it stays unregistered (Asterisk then routes nothing to it) and says why.
  if (!mediaAvailable()) {
    setStatus('insecure');
    render();
    for (const control of dialForm.elements) control.disabled = true;
    dialForm.addEventListener('submit', (e) => { e.preventDefault(); say(t('insecure')); });
    onLanguageChange(() => {
      for (const node of panel.querySelectorAll('[data-sp-label]')) relabel(node);
      showStatus();
      render();
    });
    return unavailablePhone(state, () => say(t('insecure')));
  }
  const socket = new JsSIP.WebSocketInterface(config.ws_url);
  const ua = new JsSIP.UA({
    sockets: [socket],
    uri: config.uri,
    authorization_user: config.authorization_user,
    password: config.sip_password,
    display_name: config.display_name || undefined,
    register: true,
    register_expires: config.register_expires_s || 600,
    session_timers: false,
    user_agent: 'callcenter-softphone (JsSIP)',
  });
  // Browsers tell a page nothing about why a websocket failed: a certificate this computer does
  // not trust looks like an unreachable server. Until the first connection the panel says both.
  let everConnected = false;
  ua.on('connecting', () => setStatus('connecting'));
  ua.on('connected', () => {
    everConnected = true;
    if (state.registration !== 'registered') setStatus('connected');
  });
  ua.on('disconnected', () => setStatus('disconnected', everConnected ? '' : 'never_reached'));
  ua.on('registered', () => setStatus('registered'));
  ua.on('unregistered', () => setStatus('unregistered'));
  ua.on('registrationFailed', (e) => setStatus('failed', e.cause || ''));
  ua.on('newRTCSession', (e) => {
    if (e.originator === 'remote') {
      if (session !== null) {
        // One call at a time: the ACD does not offer a second one to a busy agent anyway.
        e.session.terminate({ status_code: 486, reason_phrase: 'Busy Here' });
        return;
      }
      track(e.session, 'incoming');
    }
  });
  ua.start();

  // ---- actions ----------------------------------------------------------------------------
  const guard = (fn) => (...args) => {
    try {
      return fn(...args);
    } catch (err) {
      say(String(err && err.message ? err.message : err));
      return undefined;
    }
  };
  const phone = {
    /** The call: 'idle' | 'incoming' | 'calling' | 'in_call'. */
    get state() { return state.call; },
    /** Everything: {registration, call, held, muted, ringing}. */
    get status() { return { ...state, ringing: ringer.ringing }; },
    get ua() { return ua; },
    /** The ICE settings the next call uses (servers, policy, TURN lifetime, refreshes so far). */
    get ice() { return { ...ice }; },
    answer: guard(() => {
      if (!session || state.call !== 'incoming') return;
      ringer.stop();
      const s = session;
      const go = () => { if (session === s && state.call === 'incoming') s.answer(mediaOptions()); };
      if (iceRefresh) iceRefresh.then(() => { try { go(); } catch (err) { say(String(err)); } });
      else go();
    }),
    decline: guard(() => {
      if (!session || state.call !== 'incoming') return;
      session.terminate({ status_code: 486, reason_phrase: 'Busy Here' });
    }),
    hangup: guard(() => {
      if (!session) return;
      session.terminate();
    }),
    toggleHold: guard(() => {
      if (!session || state.call !== 'in_call') return;
      if (state.held) session.unhold(); else session.hold();
    }),
    toggleMute: guard(() => {
      if (!session || state.call !== 'in_call') return;
      if (state.muted) session.unmute({ audio: true }); else session.mute({ audio: true });
    }),
    dtmf: (tone) => {
      if (!session || state.call !== 'in_call') return;
      try {
        // RFC 4733 events in the media stream (Asterisk's dtmf_mode = rfc4733), or SIP INFO.
        session.sendDTMF(tone, { transportType: config.dtmf === 'info' ? 'INFO' : 'RFC2833',
          duration: 100, interToneGap: 70 });
      } catch (err) {
        say(`${t('dtmf_failed')} (${err && err.name ? err.name : err})`);
      }
    },
    call: guard((number) => {
      const n = String(number || '').trim();
      if (!DIALABLE.test(n)) { say(t('bad_number')); return; }
      if (session) return;
      const domain = config.uri.slice(config.uri.indexOf('@') + 1);
      const place = () => {
        if (session) return;
        const s = ua.call(`sip:${n}@${domain}`, mediaOptions());
        track(s, 'outgoing');
        caller.dataset.number = n;
        caller.textContent = fmtPhone(n);
      };
      const pending = refreshIce();
      if (iceRefresh) pending.then(() => { try { place(); } catch (err) { say(String(err)); } });
      else place();
    }),
    stop: () => {
      ringer.stop();
      stopTimer();
      window.removeEventListener('pagehide', onHide);
      ua.stop();  // un-REGISTERs, hangs up
    },
  };

  panel.addEventListener('click', (e) => {
    const b = e.target.closest('button[data-action]');
    if (!b || b.type === 'submit') return;
    const action = b.dataset.action;
    if (action === 'answer') phone.answer();
    else if (action === 'decline') phone.decline();
    else if (action === 'hangup') phone.hangup();
    else if (action === 'hold') phone.toggleHold();
    else if (action === 'mute') phone.toggleMute();
    else if (action === 'dtmf') phone.dtmf(b.dataset.tone);
  });
  dialForm.addEventListener('submit', (e) => {
    e.preventDefault();
    phone.call(numberInput.value);
  });
  const onHide = () => ua.stop();
  window.addEventListener('pagehide', onHide);
  onLanguageChange(() => {
    for (const node of panel.querySelectorAll('[data-sp-label]')) relabel(node);
    showStatus();
    render();
  });
  render();
  return phone;
}
