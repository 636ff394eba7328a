// Switchboard demo page: a plain-JS peer-to-peer video call over the signaling protocol
// (docs/protocol.md). One RTCPeerConnection per other participant; the
// newcomer (the one whose join_room ack lists participants) makes the offers.
'use strict';
(function () {
  const $ = (id) => document.getElementById(id);
  const HEARTBEAT_MS = 10000;
  const ACK_TIMEOUT_MS = 10000;
  // If the newcomer's offer does not come (both joined at the same instant and neither saw
  // the other in its join ack), the one with the smaller userId calls after this delay.
  const OFFER_FALLBACK_MS = 4000;
  // Host candidates only: enough for tabs on one machine or one LAN. Add STUN/TURN
  // servers here for calls across NATs.
  const RTC_CONFIG = { iceServers: [] };

  const app = {
    config: { devTokens: false },
    socket: null,
    token: '',
    roomId: '',
    self: null, // {userId, name} from the join ack
    joined: false,
    localStream: null,
    peers: new Map(), // userId → peer
    participants: new Map(), // userId → name (others only)
    seen: new Set(), // chat message ids already shown
    heartbeat: null,
    authRetried: false,
  };

  // ---------- UI helpers ----------
  function setStatus(state, text) {
    const el = $('status');
    el.dataset.state = state;
    el.textContent = text;
  }

  function notice(kind, text, timeoutMs) {
    const box = document.createElement('div');
    box.className = 'notice ' + kind;
    box.setAttribute('role', kind === 'error' ? 'alert' : 'status');
    const msg = document.createElement('span');
    msg.className = 'notice-text';
    msg.textContent = text;
    const close = document.createElement('button');
    close.type = 'button';
    close.textContent = '×';
    close.setAttribute('aria-label', 'Dismiss');
    close.onclick = () => box.remove();
    box.append(msg, close);
    $('notices').append(box);
    while ($('notices').children.length > 5) $('notices').firstElementChild.remove();
    const ms = timeoutMs === undefined ? (kind === 'error' ? 15000 : 6000) : timeoutMs;
    if (ms > 0) setTimeout(() => box.remove(), ms);
  }

  class RequestError extends Error {
    constructor(code, message, event) {
      super(message);
      this.code = code;
      this.event = event;
    }
  }

  function showError(err, context) {
    if (err && err.code === 'offline') return; // renegotiated after the reconnect
    const code = err && err.code ? ' (' + err.code + ')' : '';
    const what = context || (err && err.event) || '';
    notice('error', (what ? what + ': ' : '') + ((err && err.message) || String(err)) + code);
    console.warn('switchboard demo:', what, err);
  }

  function nameOf(userId) {
    if (app.self && userId === app.self.userId) return app.self.name || userId;
    return app.participants.get(userId) || userId;
  }

  function systemMessage(text) {
    const li = document.createElement('li');
    li.className = 'system';
    li.textContent = text;
    appendMessage(li);
  }

  function appendMessage(li) {
    const list = $('messages');
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    list.append(li);
    if (atBottom) list.scrollTop = list.scrollHeight;
  }

  function addChatMessage(m) {
    if (!m || !m.id || app.seen.has(m.id)) return;
    app.seen.add(m.id);
    const li = document.createElement('li');
    li.className = 'chat-message';
    li.dataset.id = m.id;
    li.dataset.senderId = m.senderId;
    const time = document.createElement('span');
    time.className = 'time';
    time.textContent = new Date(m.timestamp).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    const sender = document.createElement('span');
    sender.className = 'sender';
    sender.textContent = (m.senderName || m.senderId) + ':';
    const content = document.createElement('span');
    content.className = 'content';
    content.textContent = m.content;
    li.append(time, sender, content);
    appendMessage(li);
  }

  function renderParticipants() {
    const ul = $('participants');
    ul.replaceChildren();
    const entries = [];
    if (app.self) entries.push([app.self.userId, app.self.name || app.self.userId, true]);
    for (const [id, name] of app.participants) entries.push([id, name || id, false]);
    for (const [id, name, self] of entries) {
      const li = document.createElement('li');
      li.dataset.userId = id;
      li.textContent = name;
      if (self) {
        const you = document.createElement('span');
        you.className = 'you';
        you.textContent = '(you)';
        li.append(' ', you);
      }
      ul.append(li);
    }
  }

  // ---------- Socket.IO requests ----------
  // request emits with an ack and resolves with the ack when it is {ok:true}; a failed ack,
  // a timeout or an offline socket reject with a RequestError.
  function request(event, payload) {
    return new Promise((resolve, reject) => {
      const s = app.socket;
      if (!s || !s.connected) {
        reject(new RequestError('offline', 'not connected to the signaling server', event));
        return;
      }
      s.timeout(ACK_TIMEOUT_MS).emit(event, payload, (err, ack) => {
        if (err) {
          reject(new RequestError('timeout', 'no answer from the server within ' + ACK_TIMEOUT_MS / 1000 + ' s', event));
        } else if (!ack || ack.ok !== true) {
          const e = (ack && ack.error) || {};
          reject(new RequestError(e.code || 'internal', e.message || 'the request failed', event));
        } else {
          resolve(ack);
        }
      });
    });
  }

  // ---------- WebRTC ----------
  function peerFor(userId) {
    let peer = app.peers.get(userId);
    if (!peer) {
      peer = { userId, pc: null, offerer: false, pendingIce: [], stream: null, tile: null, video: null, fallback: 0, retry: 0 };
      app.peers.set(userId, peer);
    }
    return peer;
  }

  function ensureTile(peer) {
    if (peer.tile) {
      peer.tile.querySelector('.who').textContent = nameOf(peer.userId);
      return;
    }
    const fig = document.createElement('figure');
    fig.className = 'tile remote';
    fig.dataset.userId = peer.userId;
    fig.dataset.state = 'new';
    const video = document.createElement('video');
    video.autoplay = true;
    video.playsInline = true;
    const cap = document.createElement('figcaption');
    const who = document.createElement('span');
    who.className = 'who';
    who.textContent = nameOf(peer.userId);
    const state = document.createElement('span');
    state.className = 'state';
    state.textContent = 'connecting…';
    cap.append(who, ' ', state);
    fig.append(video, cap);
    $('videos').append(fig);
    peer.tile = fig;
    peer.video = video;
  }

  function setTileState(peer, state) {
    if (!peer.tile) return;
    peer.tile.dataset.state = state;
    peer.tile.querySelector('.state').textContent = state;
  }

  function closeConnection(peer) {
    if (peer.pc) {
      const pc = peer.pc;
      peer.pc = null;
      pc.onicecandidate = pc.ontrack = pc.onconnectionstatechange = null;
      pc.close();
    }
  }

  function removePeer(userId) {
    const peer = app.peers.get(userId);
    if (!peer) return;
    clearTimeout(peer.fallback);
    clearTimeout(peer.retry);
    closeConnection(peer);
    if (peer.tile) peer.tile.remove();
    app.peers.delete(userId);
  }

  // newConnection replaces the peer's RTCPeerConnection with a fresh one.
  function newConnection(peer, offerer) {
    closeConnection(peer);
    clearTimeout(peer.fallback);
    const pc = new RTCPeerConnection(RTC_CONFIG);
    peer.pc = pc;
    peer.offerer = offerer;
    peer.stream = new MediaStream();
    ensureTile(peer);
    peer.video.srcObject = peer.stream;
    setTileState(peer, 'connecting');
    pc.onicecandidate = (e) => {
      if (!e.candidate || peer.pc !== pc) return;
      request('webrtc_ice_candidate', { to: peer.userId, candidate: e.candidate.toJSON() })
        .catch((err) => showError(err, 'ICE candidate for ' + nameOf(peer.userId)));
    };
    pc.ontrack = (e) => {
      if (peer.pc !== pc) return;
      peer.stream.addTrack(e.track);
      peer.video.play().catch(() => { /* autoplay needs a user gesture; the Join click is one */ });
    };
    pc.onconnectionstatechange = () => {
      if (peer.pc !== pc) return;
      setTileState(peer, pc.connectionState);
      // The side that offered restarts a failed connection while the other is still here.
      if (pc.connectionState === 'failed' && peer.offerer && app.participants.has(peer.userId)) {
        clearTimeout(peer.retry);
        peer.retry = setTimeout(() => {
          if (peer.pc === pc && app.joined && app.participants.has(peer.userId)) callPeer(peer.userId);
        }, 2000);
      }
    };
    return pc;
  }

  function addLocalTracks(pc, offerer) {
    const tracks = app.localStream ? app.localStream.getTracks() : [];
    for (const t of tracks) pc.addTrack(t, app.localStream);
    if (offerer) {
      // Receive both kinds even without a camera or microphone of our own.
      for (const kind of ['audio', 'video']) {
        if (!tracks.some((t) => t.kind === kind)) pc.addTransceiver(kind, { direction: 'recvonly' });
      }
    }
  }

  async function flushIce(peer, pc) {
    const queued = peer.pendingIce;
    peer.pendingIce = [];
    for (const c of queued) {
      try {
        await pc.addIceCandidate(c);
      } catch (err) {
        console.debug('switchboard demo: stale ICE candidate ignored', err);
      }
    }
  }

  async function callPeer(userId) {
    const peer = peerFor(userId);
    peer.pendingIce = [];
    const pc = newConnection(peer, true);
    addLocalTracks(pc, true);
    try {
      await pc.setLocalDescription(await pc.createOffer());
      if (peer.pc !== pc) return;
      await request('webrtc_offer', { to: userId, sdp: pc.localDescription.toJSON() });
    } catch (err) {
      showError(err, 'calling ' + nameOf(userId));
    }
  }

  async function onOffer(msg) {
    const from = msg.from;
    const peer = peerFor(from);
    if (peer.pc && peer.offerer && peer.pc.signalingState === 'have-local-offer') {
      // Glare: both offered. The peer with the smaller userId yields.
      if (app.self && app.self.userId > from) return;
    }
    const queued = peer.pendingIce;
    const pc = newConnection(peer, false);
    peer.pendingIce = queued;
    try {
      await pc.setRemoteDescription(msg.sdp);
      addLocalTracks(pc, false);
      await pc.setLocalDescription(await pc.createAnswer());
      if (peer.pc !== pc) return;
      flushIce(peer, pc);
      await request('webrtc_answer', { to: from, sdp: pc.localDescription.toJSON() });
    } catch (err) {
      showError(err, 'answering ' + nameOf(from));
    }
  }

  async function onAnswer(msg) {
    const peer = app.peers.get(msg.from);
    if (!peer || !peer.pc || peer.pc.signalingState !== 'have-local-offer') return; // stale
    const pc = peer.pc;
    try {
      await pc.setRemoteDescription(msg.sdp);
      flushIce(peer, pc);
    } catch (err) {
      showError(err, 'answer from ' + nameOf(msg.from));
    }
  }

  function onCandidate(msg) {
    const peer = peerFor(msg.from);
    if (peer.pc && peer.pc.remoteDescription) {
      peer.pc.addIceCandidate(msg.candidate).catch((err) => console.debug('switchboard demo: ICE candidate ignored', err));
    } else {
      peer.pendingIce.push(msg.candidate);
    }
  }

  // ---------- room ----------
  async function joinRoom() {
    const ack = await request('join_room', { roomId: app.roomId });
    app.self = ack.self;
    app.joined = true;
    $('local-name').textContent = (ack.self.name || ack.self.userId) + ' (you)';
    const present = new Set(ack.participants.map((p) => p.userId));
    for (const id of [...app.peers.keys()]) if (!present.has(id)) removePeer(id);
    for (const id of [...app.participants.keys()]) if (!present.has(id)) app.participants.delete(id);
    for (const p of ack.participants) app.participants.set(p.userId, p.name);
    renderParticipants();
    for (const m of ack.chat || []) addChatMessage(m);
    if (ack.mode && ack.mode !== 'p2p') {
      notice('warn', 'Room "' + ack.roomId + '" is in ' + ack.mode + ' mode; this page only makes peer-to-peer calls.', 0);
    }
    setStatus('connected', 'in room ' + ack.roomId + ' as ' + (ack.self.name || ack.self.userId));
    // We are the newcomer: call everyone already here. After a reconnect, a call whose
    // media still flows is kept (the signaling socket is not on the media path).
    for (const p of ack.participants) {
      const peer = app.peers.get(p.userId);
      if (peer && peer.pc && peer.pc.connectionState === 'connected') continue;
      callPeer(p.userId);
    }
  }

  function wireSocket(s) {
    s.on('connect', () => {
      setStatus('connecting', 'joining ' + app.roomId + '…');
      // Like a real frontend: every (re)connect joins the room again. Within the
      // reconnection window the others see no leave/join.
      joinRoom().catch((err) => {
        app.joined = false;
        showError(err, 'join_room');
        setStatus('error', 'not in the room');
      });
    });
    s.on('disconnect', (reason) => {
      app.joined = false;
      setStatus('reconnecting', 'disconnected (' + reason + '), reconnecting…');
      if (reason === 'io server disconnect') {
        // The server closed the socket on purpose; socket.io-client does not retry by itself.
        setTimeout(() => { if (app.socket === s) s.connect(); }, 1000 + Math.random() * 2000);
      }
    });
    s.on('connect_error', (err) => {
      setStatus('error', 'cannot connect');
      notice('error', 'Connection failed: ' + err.message);
      if (err.message === 'Authentication error' && app.config.devTokens && !s.active && !app.authRetried) {
        // The dev token may have expired: fetch a new one and try once more.
        app.authRetried = true;
        fetchDevToken(app.self ? app.self.name : $('name').value)
          .then(() => s.connect())
          .catch((e) => showError(e, 'dev token'));
      }
    });
    s.on('user_joined', (m) => {
      app.participants.set(m.userId, m.name);
      renderParticipants();
      systemMessage((m.name || m.userId) + ' joined');
      const peer = peerFor(m.userId);
      ensureTile(peer);
      // The newcomer offers; if its offer does not come, the smaller userId calls.
      clearTimeout(peer.fallback);
      peer.fallback = setTimeout(() => {
        if (!peer.pc && app.joined && app.participants.has(m.userId) && app.self && app.self.userId < m.userId) callPeer(m.userId);
      }, OFFER_FALLBACK_MS);
    });
    s.on('user_left', (m) => {
      const name = nameOf(m.userId);
      app.participants.delete(m.userId);
      removePeer(m.userId);
      renderParticipants();
      const why = { left: 'left', disconnected: 'disconnected', timeout: 'timed out' }[m.reason] || m.reason;
      systemMessage(name + ' left (' + why + ')');
    });
    s.on('webrtc_offer', onOffer);
    s.on('webrtc_answer', onAnswer);
    s.on('webrtc_ice_candidate', onCandidate);
    s.on('chat_message', addChatMessage);
    s.on('error', (e) => {
      const text = (e && e.message) || 'server error';
      notice('error', (e && e.event ? e.event + ': ' : '') + text + (e && e.code ? ' (' + e.code + ')' : ''));
      if (e && e.code === 'replaced') {
        // This user joined the room from another tab or device; this one steps back.
        leaveCall(false);
        notice('warn', 'You joined this room from another tab, so this one left. Join again to take over.', 0);
      }
    });
    s.on('server_draining', (m) => {
      notice('warn', 'The signaling server is restarting; reconnecting in about ' + Math.ceil((m.reconnectInMs || 0) / 1000) + ' s.');
    });
    s.on('room_mode_changed', (m) => {
      notice('warn', 'Room "' + m.roomId + '" changed to ' + m.mode + ' mode; this page only makes peer-to-peer calls.', 0);
    });
  }

  // ---------- join / leave ----------
  function devUserId(name) {
    const key = 'switchboard-demo-user:' + name;
    let id = sessionStorage.getItem(key); // per tab: two tabs are two users, a reload is the same one
    if (!id) {
      const slug = name.toLowerCase().replace(/[^a-z0-9_.-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40) || 'user';
      const rnd = Array.from(crypto.getRandomValues(new Uint8Array(4)), (b) => b.toString(16).padStart(2, '0')).join('');
      id = slug + '-' + rnd;
      sessionStorage.setItem(key, id);
    }
    return id;
  }

  async function fetchDevToken(name) {
    const q = new URLSearchParams({ user: devUserId(name), name });
    const res = await fetch('/dev/token?' + q.toString(), { cache: 'no-store' });
    if (!res.ok) throw new Error('GET /dev/token: HTTP ' + res.status + ' ' + (await res.text()).trim());
    const body = await res.json();
    app.token = body.token;
  }

  async function getLocalMedia() {
    const tries = [
      { audio: true, video: { width: { ideal: 640 }, height: { ideal: 480 } } },
      { video: true },
      { audio: true },
    ];
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      notice('warn', 'This browser gives no camera access here (it needs https or localhost); you can still watch and chat.');
      return null;
    }
    let lastErr = null;
    for (const c of tries) {
      try {
        return await navigator.mediaDevices.getUserMedia(c);
      } catch (err) {
        lastErr = err;
      }
    }
    notice('warn', 'No camera or microphone (' + (lastErr ? lastErr.name : 'unavailable') + '); you can still watch and chat.');
    return null;
  }

  async function startCall(ev) {
    ev.preventDefault();
    const roomId = $('room').value.trim();
    const name = $('name').value.trim();
    if (!roomId || !name) return;
    $('join').disabled = true;
    try {
      if (app.config.devTokens) {
        await fetchDevToken(name);
      } else {
        app.token = $('token').value.trim();
      }
      app.roomId = roomId;
      app.authRetried = false;
      app.localStream = await getLocalMedia();
      $('local-video').srcObject = app.localStream;
      $('local-tile').hidden = !app.localStream;
      $('room-label').textContent = roomId;
      $('local-name').textContent = name + ' (you)';
      $('join-form').hidden = true;
      $('call').hidden = false;
      const url = new URL(location.href);
      url.searchParams.set('room', roomId);
      history.replaceState(null, '', url);

      setStatus('connecting', 'connecting…');
      // Same origin as the page; default transports (long-polling, then the upgrade to
      // WebSocket), so the page works behind any load balancer, sticky or not.
      const s = io({
        auth: (cb) => cb(app.token ? { token: app.token } : {}),
      });
      app.socket = s;
      wireSocket(s);
      app.heartbeat = setInterval(() => {
        if (app.joined) request('heartbeat', {}).catch((err) => showError(err, 'heartbeat'));
      }, HEARTBEAT_MS);
    } catch (err) {
      showError(err, 'join');
      leaveCall(false);
    } finally {
      $('join').disabled = false;
    }
  }

  function leaveCall(sendLeave) {
    const s = app.socket;
    app.socket = null;
    app.joined = false;
    clearInterval(app.heartbeat);
    if (s) {
      if (sendLeave && s.connected) {
        s.timeout(2000).emit('leave_room', {}, () => s.disconnect());
      } else {
        s.disconnect();
      }
      s.off();
    }
    for (const id of [...app.peers.keys()]) removePeer(id);
    app.participants.clear();
    app.self = null;
    if (app.localStream) app.localStream.getTracks().forEach((t) => t.stop());
    app.localStream = null;
    $('local-video').srcObject = null;
    $('messages').replaceChildren();
    app.seen.clear();
    renderParticipants();
    $('call').hidden = true;
    $('join-form').hidden = false;
    setStatus('idle', 'not connected');
  }

  async function sendChat(ev) {
    ev.preventDefault();
    const input = $('chat-input');
    const content = input.value;
    if (!content.trim()) return;
    $('chat-send').disabled = true;
    try {
      await request('chat_message', { content });
      input.value = ''; // the message itself arrives as chat_message, like everyone else's
    } catch (err) {
      showError(err, 'chat_message');
    } finally {
      $('chat-send').disabled = false;
      input.focus();
    }
  }

  // ---------- start ----------
  async function init() {
    const params = new URLSearchParams(location.search);
    if (params.get('room')) $('room').value = params.get('room');
    if (params.get('name')) $('name').value = params.get('name');
    try {
      const res = await fetch('/demo/config.json', { cache: 'no-store' });
      if (res.ok) app.config = await res.json();
    } catch (err) {
      console.warn('switchboard demo: no config', err);
    }
    $('token-row').hidden = !!app.config.devTokens;
    if (typeof io !== 'function') {
      notice('error', 'socket.io-client did not load (/demo/socket.io.min.js).', 0);
      $('join').disabled = true;
      return;
    }
    $('join-form').addEventListener('submit', startCall);
    $('chat-form').addEventListener('submit', sendChat);
    $('leave').addEventListener('click', () => leaveCall(true));
    document.body.dataset.ready = 'true';
  }

  // Read-only view for tests and the browser console.
  window.switchboardDemo = {
    get self() { return app.self; },
    get joined() { return app.joined; },
    get connected() { return !!(app.socket && app.socket.connected); },
    get socket() { return app.socket; },
    participants: () => [...app.participants.keys()],
    peerStates: () => Object.fromEntries([...app.peers].map(([id, p]) => [id, p.pc ? p.pc.connectionState : 'none'])),
  };

  init();
})();
