// bench/native-profile.mjs's sorting of perf samples: the family of a sample's leaf frame (which
// code the CPU was in), the system call a kernel sample's stack entered through, and the purpose
// of a sample read from its whole stack (what certmint was doing: TLS records, JWS verify, …).
// Node links OpenSSL statically, so libcrypto/libssl are told apart from V8 and Node by symbol name.

export const FAMILIES = ['V8 JIT code', 'V8 builtins/interpreter', 'V8 GC', 'V8 compiler', 'V8 runtime/IC', 'libcrypto', 'libssl', 'SQLite', 'libuv', 'node (C++)', 'libc/malloc', 'kernel', 'other'];

const SSL = /^(SSL_|ssl_|ssl3_|tls1?_|tls13_|dtls|ossl_statem|statem_|read_state_machine|write_state_machine|ossl_ssl|ossl_tls|ossl_quic|SSL)/;
const CRYPTO = /^(ossl_|OSSL_|OPENSSL_|CRYPTO_|EVP_|evp_|EC_|ec_|ecp_|ECDSA|ECDH|ecdsa|ecdh|BN_|bn_|RSA|rsa_|SHA|sha|sha256|sha512|aes|AES|aesni|gcm|GCM|_?x86_64_|ChaCha|chacha|Poly1305|poly1305|HMAC|hmac|ASN1|asn1|X509|x509|d2i_|i2d_|PEM_|pem_|RAND_|rand_|ERR_|err_|OBJ_|obj_|BIO_|bio_|DH_|dh_|DSA|dsa_|KDF|kdf_|HKDF|hkdf|PKCS|pkcs|ENGINE|engine_|CONF|conf_|LH_|lh_|OPENSSL|decoder_|encoder_|keymgmt_|provider_|algorithm_|int_ctx|md_|cipher_|mac_|digest_|sm2|ed25519|x25519|X25519|ED25519|curve25519|ge_|fe_|fe51|mul_|__ecp|ecx_|ecp_nistz256|BUF_|buf_|OCSP|CT_|ct_|UI_|COMP|EC_GROUP|EC_POINT|ecdsa_|felem|p256|p384|p521|nistp|RAND|drbg|ossl|crypto_|construct_|new_|do_|ec_GFp|ossl_ec|bio)/;
const GC = /v8::internal::(.*(Scaveng|MarkCompact|Marking|Marker|Sweep|Evacuat|Compact|GCTracer|Heap::(Collect|Perform|Scavenge|GarbageCollection|Allocate|IncrementalMarking|Minor|Full)|MinorMC|ConcurrentMark|IncrementalMark|RememberedSet|SlotSet|TypedSlot|PointersUpdating|ObjectVisitor|BodyDescriptor|MemoryAllocator|MemoryChunk|Page::|LargeObjectSpace|NewSpace|SemiSpace|PagedSpace|FreeList|WeakObjects|EphemeronTable|ArrayBufferSweeper|Unmapper|CppHeap|cppgc|Iterate))|^cppgc::|Builtins_RecordWrite|Builtins_EphemeronKey/;

/** The family of one frame (a sample's leaf). */
export function familyOf({ sym, dso }) {
  const base = dso.split('/').pop();
  if (dso.startsWith('[kernel') || dso === '[unknown]' && /^(__|entry_|do_syscall|syscall)/.test(sym)) return 'kernel';
  if (dso.startsWith('[JIT]') || /^perf-\d+\.map$/.test(base) || /^(JS|LazyCompile|Function|Builtin|Script|Eval|InterpretedFunction|RegExp|Handler|Stub|BytecodeHandler):/.test(sym)) return 'V8 JIT code';
  if (base.startsWith('better_sqlite3') || /^sqlite3/.test(sym)) return 'SQLite';
  if (/^lib(c|m|pthread|stdc\+\+|gcc_s)[.-]/.test(base) || /^(malloc|free|realloc|calloc|cfree|_int_|__memcpy|__memmove|__memset|__memcmp|memcpy|memmove|memset|operator new|operator delete|__libc_|tcache)/.test(sym)) return 'libc/malloc';
  if (base !== 'node' && !base.startsWith('node')) return 'other';
  if (GC.test(sym)) return 'V8 GC';
  if (/^Builtins_/.test(sym)) return 'V8 builtins/interpreter';
  if (/^v8::internal::(compiler|maglev|baseline|interpreter::BytecodeGenerator|Zone|Parser|ParserBase|Scanner|AstValueFactory|Compiler|OptimizingCompileDispatcher|turboshaft|wasm)|^v8::internal::.*(Compil|Zone|Ast|Bytecode)/.test(sym)) return 'V8 compiler';
  if (/^uv_|^uv__/.test(sym)) return 'libuv';
  if (SSL.test(sym)) return 'libssl';
  if (CRYPTO.test(sym)) return 'libcrypto';
  if (/^(v8::|v8_inspector|icu_|unibrow|simdutf|v8_|Builtins)/.test(sym)) return 'V8 runtime/IC';
  if (/^(node::|llhttp|nghttp2|ada::|brotli|cares|ares_|napi_|simdjson)/.test(sym)) return 'node (C++)';
  return 'other';
}

/** The system call a kernel sample's stack entered through (or irq/softirq/idle). */
export function syscallOf(frames) {
  for (const { sym } of frames) {
    const m = /^(?:__x64_sys_|__ia32_sys_|__se_sys_|__do_sys_|ksys_)(\w+)/.exec(sym);
    if (m) return m[1];
  }
  const syms = frames.map((f) => f.sym).join(' ');
  if (/asm_sysvec|irq_exit|__do_softirq|net_rx_action/.test(syms)) return '(interrupt/softirq)';
  if (/asm_exc_page_fault|exc_page_fault|do_user_addr_fault/.test(syms)) return '(page fault)';
  if (/schedule|switch_to|finish_task_switch/.test(syms)) return '(scheduler)';
  return '(other kernel)';
}

/** What a sample was doing, from the first stack frame (leaf → root) that says so. */
const PURPOSES = [
  [/^(ECDSA_do_verify|ossl_ecdsa_verify|ossl_ecdsa_simple_verify|ecdsa_verify|ossl_ecdsa_verify_sig)/, 'ECDSA verify (JWS/CSR)'],
  [/^(RSA_verify|rsa_ossl_public_decrypt|ossl_rsa_verify|RSA_public_decrypt)/, 'RSA verify'],
  [/^(ECDSA_do_sign|ossl_ecdsa_sign|ossl_ecdsa_simple_sign|ECDSA_sign)/, 'ECDSA sign (CA)'],
  [/^(ecdh_|ossl_ecdh|ECDH_compute_key|ecx_derive|X25519|ossl_x25519|tls_process_client_key_exchange|tls_process_key_share|tls_construct_server_key_exchange|tls_parse_ctos_key_share)/, 'TLS handshake key exchange'],
  [/^(tls_construct_cert_verify|tls_construct_server_certificate|tls_construct_finished|tls_process_finished|ossl_statem_accept|tls_early_post_process_client_hello|tls_post_process_client_hello|ossl_statem_server)/, 'TLS handshake other'],
  [/^(SSL_do_handshake|ossl_statem_)/, 'TLS handshake other'],
  [/^(ssl3_write_bytes|tls_write_records|ssl3_write_pending|SSL_write|do_ssl3_write|tls13_enc|tls1_enc)/, 'TLS record write (encrypt)'],
  [/^(ssl3_read_bytes|tls_get_more_records|ssl3_get_record|SSL_read|ssl3_read)/, 'TLS record read (decrypt)'],
  [/^(HMAC|hmac_|ossl_hmac|node::crypto::Hmac)/, 'HMAC (nonces)'],
  [/^node::crypto::(Sign|Verify|SignJob|VerifyJob|Sig)/, 'node crypto sign/verify (other)'],
  [/^(node::crypto::(KeyObject|ManagedEVPPKey|.*ParsePublicKey|.*ParsePrivateKey|.*KeyObjectHandle)|PEM_read|d2i_PUBKEY|d2i_PublicKey|OSSL_DECODER)/, 'key import (createPublicKey)'],
  [/^node::crypto::(Hash|Digest)/, 'hash'],
  [/^node::crypto::(RandomBytes|CSPRNG)|^RAND_/, 'random'],
  [/^sqlite3|better_sqlite3|Statement::|Database::/, 'SQLite'],
  [/^(uv__io_poll|uv__epoll)/, 'event loop poll'],
  [/^(uv__write|uv_try_write|uv__read|uv__stream_io|node::LibuvStreamWrap|node::StreamBase::Write)/, 'stream I/O (libuv)'],
  [/^(uv__work_done|uv__fs_|uv_fs_)/, 'fs / thread pool'],
  [/^node::http_parser|^llhttp/, 'HTTP parse'],
];

export function purposeOf(frames, family) {
  if (family === 'V8 GC') return 'GC';
  for (const frame of frames) {
    for (const [re, name] of PURPOSES) if (re.test(frame.sym)) return name;
    // Native code called from JavaScript that no pattern named: the JavaScript's (every request
    // runs inside libuv's read callback, so looking further would credit it all to stream I/O).
    if (familyOf(frame) === 'V8 JIT code') return family === 'kernel' ? `kernel: ${syscallOf(frames)}` : family.startsWith('V8') ? 'JavaScript (V8)' : `from JavaScript: ${family}`;
  }
  if (family === 'kernel') return `kernel: ${syscallOf(frames)}`;
  if (family.startsWith('V8')) return 'JavaScript (V8)';
  return `other: ${family}`;
}
