// Status unions of RFC 8555 §7.1.6, mirrored by the CHECK constraints in migrations/.
export type AccountStatus = 'valid' | 'deactivated' | 'revoked';
export type OrderStatus = 'pending' | 'ready' | 'processing' | 'valid' | 'invalid';
export type AuthorizationStatus = 'pending' | 'valid' | 'invalid' | 'deactivated' | 'expired' | 'revoked';
export type ChallengeStatus = 'pending' | 'processing' | 'valid' | 'invalid';
export type ChallengeType = 'http-01' | 'dns-01' | 'tls-alpn-01' | 'dns-persist-01';
export type CertificateStatus = 'valid' | 'revoked';
