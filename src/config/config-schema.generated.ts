// Generated from ConfigSchema (schema.ts) by src/config/config-schema.test.ts: `npm run generate`. Do not edit.
/* eslint-disable */
// @ts-nocheck
import { Guard } from 'typebox/guard';

/** ConfigSchema as JSON Schema, for typebox's Value.Errors when a config fails the check below. */
export const CONFIG_SCHEMA = {
  "type": "object",
  "required": [
    "server",
    "dataDir",
    "ca",
    "acme",
    "validation",
    "policy",
    "crl",
    "eab",
    "limits",
    "profiles",
    "policies",
    "ledger"
  ],
  "properties": {
    "server": {
      "type": "object",
      "required": [
        "listen",
        "baseUrl",
        "tls",
        "bodyLimit",
        "headersTimeout",
        "requestTimeout",
        "keepAliveTimeout",
        "maxConnections"
      ],
      "properties": {
        "listen": {
          "type": "string",
          "minLength": 1
        },
        "baseUrl": {
          "type": "string"
        },
        "tls": {
          "type": "object",
          "required": [
            "enabled",
            "hostnames",
            "lifetime"
          ],
          "properties": {
            "enabled": {
              "type": "boolean"
            },
            "hostnames": {
              "type": "array",
              "items": {
                "type": "string",
                "minLength": 1
              }
            },
            "lifetime": {
              "anyOf": [
                {
                  "type": "string",
                  "pattern": "^\\s*\\d+(\\.\\d+)?\\s*(ms|s|m|h|d)?\\s*$"
                },
                {
                  "type": "number",
                  "minimum": 0
                }
              ]
            }
          },
          "additionalProperties": false
        },
        "bodyLimit": {
          "type": "integer",
          "minimum": 1024
        },
        "headersTimeout": {
          "anyOf": [
            {
              "type": "string",
              "pattern": "^\\s*\\d+(\\.\\d+)?\\s*(ms|s|m|h|d)?\\s*$"
            },
            {
              "type": "number",
              "minimum": 0
            }
          ]
        },
        "requestTimeout": {
          "anyOf": [
            {
              "type": "string",
              "pattern": "^\\s*\\d+(\\.\\d+)?\\s*(ms|s|m|h|d)?\\s*$"
            },
            {
              "type": "number",
              "minimum": 0
            }
          ]
        },
        "keepAliveTimeout": {
          "anyOf": [
            {
              "type": "string",
              "pattern": "^\\s*\\d+(\\.\\d+)?\\s*(ms|s|m|h|d)?\\s*$"
            },
            {
              "type": "number",
              "minimum": 0
            }
          ]
        },
        "maxConnections": {
          "type": "integer",
          "minimum": 0
        }
      },
      "additionalProperties": false
    },
    "dataDir": {
      "type": "string",
      "minLength": 1
    },
    "ca": {
      "type": "object",
      "required": [
        "name",
        "keyAlgorithm",
        "rootLifetime",
        "intermediateLifetime",
        "leafLifetime",
        "keyPassphraseFile"
      ],
      "properties": {
        "name": {
          "type": "string",
          "minLength": 1
        },
        "keyAlgorithm": {
          "anyOf": [
            {
              "type": "string",
              "const": "ecdsa-p256"
            },
            {
              "type": "string",
              "const": "ecdsa-p384"
            },
            {
              "type": "string",
              "const": "rsa-2048"
            },
            {
              "type": "string",
              "const": "rsa-3072"
            },
            {
              "type": "string",
              "const": "rsa-4096"
            }
          ]
        },
        "rootLifetime": {
          "anyOf": [
            {
              "type": "string",
              "pattern": "^\\s*\\d+(\\.\\d+)?\\s*(ms|s|m|h|d)?\\s*$"
            },
            {
              "type": "number",
              "minimum": 0
            }
          ]
        },
        "intermediateLifetime": {
          "anyOf": [
            {
              "type": "string",
              "pattern": "^\\s*\\d+(\\.\\d+)?\\s*(ms|s|m|h|d)?\\s*$"
            },
            {
              "type": "number",
              "minimum": 0
            }
          ]
        },
        "leafLifetime": {
          "anyOf": [
            {
              "type": "string",
              "pattern": "^\\s*\\d+(\\.\\d+)?\\s*(ms|s|m|h|d)?\\s*$"
            },
            {
              "type": "number",
              "minimum": 0
            }
          ]
        },
        "keyPassphraseFile": {
          "type": "string"
        }
      },
      "additionalProperties": false
    },
    "acme": {
      "type": "object",
      "required": [
        "termsOfService",
        "website"
      ],
      "properties": {
        "termsOfService": {
          "type": "string"
        },
        "website": {
          "type": "string"
        }
      },
      "additionalProperties": false
    },
    "validation": {
      "type": "object",
      "required": [
        "http01Port",
        "tlsAlpn01Port",
        "dnsResolvers",
        "timeout",
        "answerWithin",
        "caa",
        "testFailureRate"
      ],
      "properties": {
        "http01Port": {
          "type": "integer",
          "minimum": 1,
          "maximum": 65535
        },
        "tlsAlpn01Port": {
          "type": "integer",
          "minimum": 1,
          "maximum": 65535
        },
        "dnsResolvers": {
          "type": "array",
          "items": {
            "type": "string",
            "minLength": 1
          }
        },
        "timeout": {
          "anyOf": [
            {
              "type": "string",
              "pattern": "^\\s*\\d+(\\.\\d+)?\\s*(ms|s|m|h|d)?\\s*$"
            },
            {
              "type": "number",
              "minimum": 0
            }
          ]
        },
        "answerWithin": {
          "anyOf": [
            {
              "type": "string",
              "pattern": "^\\s*\\d+(\\.\\d+)?\\s*(ms|s|m|h|d)?\\s*$"
            },
            {
              "type": "number",
              "minimum": 0
            }
          ]
        },
        "caa": {
          "type": "object",
          "required": [
            "enabled",
            "identities"
          ],
          "properties": {
            "enabled": {
              "type": "boolean"
            },
            "identities": {
              "type": "array",
              "items": {
                "type": "string",
                "minLength": 1
              }
            }
          },
          "additionalProperties": false
        },
        "testFailureRate": {
          "type": "number",
          "minimum": 0,
          "maximum": 1
        }
      },
      "additionalProperties": false
    },
    "policy": {
      "type": "object",
      "required": [
        "maxLifetime",
        "orderLifetime",
        "pendingAuthorizationLifetime",
        "authorizationLifetime"
      ],
      "properties": {
        "maxLifetime": {
          "anyOf": [
            {
              "type": "string",
              "pattern": "^\\s*\\d+(\\.\\d+)?\\s*(ms|s|m|h|d)?\\s*$"
            },
            {
              "type": "number",
              "minimum": 0
            }
          ]
        },
        "orderLifetime": {
          "anyOf": [
            {
              "type": "string",
              "pattern": "^\\s*\\d+(\\.\\d+)?\\s*(ms|s|m|h|d)?\\s*$"
            },
            {
              "type": "number",
              "minimum": 0
            }
          ]
        },
        "pendingAuthorizationLifetime": {
          "anyOf": [
            {
              "type": "string",
              "pattern": "^\\s*\\d+(\\.\\d+)?\\s*(ms|s|m|h|d)?\\s*$"
            },
            {
              "type": "number",
              "minimum": 0
            }
          ]
        },
        "authorizationLifetime": {
          "anyOf": [
            {
              "type": "string",
              "pattern": "^\\s*\\d+(\\.\\d+)?\\s*(ms|s|m|h|d)?\\s*$"
            },
            {
              "type": "number",
              "minimum": 0
            }
          ]
        }
      },
      "additionalProperties": false
    },
    "crl": {
      "type": "object",
      "required": [
        "validity",
        "refresh",
        "rootValidity",
        "checkInterval"
      ],
      "properties": {
        "validity": {
          "anyOf": [
            {
              "type": "string",
              "pattern": "^\\s*\\d+(\\.\\d+)?\\s*(ms|s|m|h|d)?\\s*$"
            },
            {
              "type": "number",
              "minimum": 0
            }
          ]
        },
        "refresh": {
          "anyOf": [
            {
              "type": "string",
              "pattern": "^\\s*\\d+(\\.\\d+)?\\s*(ms|s|m|h|d)?\\s*$"
            },
            {
              "type": "number",
              "minimum": 0
            }
          ]
        },
        "rootValidity": {
          "anyOf": [
            {
              "type": "string",
              "pattern": "^\\s*\\d+(\\.\\d+)?\\s*(ms|s|m|h|d)?\\s*$"
            },
            {
              "type": "number",
              "minimum": 0
            }
          ]
        },
        "checkInterval": {
          "anyOf": [
            {
              "type": "string",
              "pattern": "^\\s*\\d+(\\.\\d+)?\\s*(ms|s|m|h|d)?\\s*$"
            },
            {
              "type": "number",
              "minimum": 0
            }
          ]
        }
      },
      "additionalProperties": false
    },
    "eab": {
      "type": "object",
      "required": [
        "required"
      ],
      "properties": {
        "required": {
          "type": "boolean"
        }
      },
      "additionalProperties": false
    },
    "limits": {
      "type": "object",
      "required": [
        "newOrdersPerAccountPerHour",
        "newAccountsPerIpPerHour",
        "pendingAuthorizationsPerAccount",
        "identifiersPerOrder"
      ],
      "properties": {
        "newOrdersPerAccountPerHour": {
          "type": "integer",
          "minimum": 0
        },
        "newAccountsPerIpPerHour": {
          "type": "integer",
          "minimum": 0
        },
        "pendingAuthorizationsPerAccount": {
          "type": "integer",
          "minimum": 0
        },
        "identifiersPerOrder": {
          "type": "integer",
          "minimum": 0,
          "maximum": 1000
        }
      },
      "additionalProperties": false
    },
    "profiles": {
      "type": "object",
      "patternProperties": {
        "^[A-Za-z0-9][A-Za-z0-9_.-]*$": {
          "type": "object",
          "required": [
            "description"
          ],
          "properties": {
            "description": {
              "type": "string",
              "minLength": 1
            },
            "lifetime": {
              "anyOf": [
                {
                  "type": "string",
                  "pattern": "^\\s*\\d+(\\.\\d+)?\\s*(ms|s|m|h|d)?\\s*$"
                },
                {
                  "type": "number",
                  "minimum": 0
                }
              ]
            },
            "usage": {
              "anyOf": [
                {
                  "type": "string",
                  "const": "server"
                },
                {
                  "type": "string",
                  "const": "client"
                },
                {
                  "type": "string",
                  "const": "both"
                }
              ]
            },
            "keyUsage": {
              "type": "array",
              "items": {
                "anyOf": [
                  {
                    "type": "string",
                    "const": "digitalSignature"
                  },
                  {
                    "type": "string",
                    "const": "keyEncipherment"
                  }
                ]
              },
              "minItems": 1
            },
            "keyTypes": {
              "type": "array",
              "items": {
                "anyOf": [
                  {
                    "type": "string",
                    "const": "rsa"
                  },
                  {
                    "type": "string",
                    "const": "ecdsa"
                  },
                  {
                    "type": "string",
                    "const": "ed25519"
                  }
                ]
              },
              "minItems": 1
            },
            "commonName": {
              "type": "boolean"
            }
          },
          "additionalProperties": false
        }
      },
      "additionalProperties": false
    },
    "policies": {
      "type": "object",
      "patternProperties": {
        "^[A-Za-z0-9][A-Za-z0-9_.-]*$": {
          "type": "object",
          "properties": {
            "allow": {
              "type": "array",
              "items": {
                "type": "string",
                "minLength": 1
              }
            },
            "deny": {
              "type": "array",
              "items": {
                "type": "string",
                "minLength": 1
              }
            },
            "challenges": {
              "type": "array",
              "items": {
                "anyOf": [
                  {
                    "type": "string",
                    "const": "http-01"
                  },
                  {
                    "type": "string",
                    "const": "dns-01"
                  },
                  {
                    "type": "string",
                    "const": "tls-alpn-01"
                  }
                ]
              }
            },
            "maxLifetime": {
              "anyOf": [
                {
                  "type": "string",
                  "pattern": "^\\s*\\d+(\\.\\d+)?\\s*(ms|s|m|h|d)?\\s*$"
                },
                {
                  "type": "number",
                  "minimum": 0
                }
              ]
            },
            "profiles": {
              "type": "array",
              "items": {
                "type": "string",
                "minLength": 1
              }
            }
          },
          "additionalProperties": false
        }
      },
      "additionalProperties": false
    },
    "ledger": {
      "type": "object",
      "required": [
        "url",
        "passwordFile",
        "poolSize"
      ],
      "properties": {
        "url": {
          "type": "string"
        },
        "passwordFile": {
          "type": "string"
        },
        "poolSize": {
          "type": "integer",
          "minimum": 1,
          "maximum": 1000
        }
      },
      "additionalProperties": false
    }
  },
  "additionalProperties": false
};

const External = [
  /^\s*\d+(\.\d+)?\s*(ms|s|m|h|d)?\s*$/u,
  /^\s*\d+(\.\d+)?\s*(ms|s|m|h|d)?\s*$/u,
  /^\s*\d+(\.\d+)?\s*(ms|s|m|h|d)?\s*$/u,
  /^\s*\d+(\.\d+)?\s*(ms|s|m|h|d)?\s*$/u,
  /^\s*\d+(\.\d+)?\s*(ms|s|m|h|d)?\s*$/u,
  /^\s*\d+(\.\d+)?\s*(ms|s|m|h|d)?\s*$/u,
  /^\s*\d+(\.\d+)?\s*(ms|s|m|h|d)?\s*$/u,
  /^\s*\d+(\.\d+)?\s*(ms|s|m|h|d)?\s*$/u,
  /^\s*\d+(\.\d+)?\s*(ms|s|m|h|d)?\s*$/u,
  /^\s*\d+(\.\d+)?\s*(ms|s|m|h|d)?\s*$/u,
  /^\s*\d+(\.\d+)?\s*(ms|s|m|h|d)?\s*$/u,
  /^\s*\d+(\.\d+)?\s*(ms|s|m|h|d)?\s*$/u,
  /^\s*\d+(\.\d+)?\s*(ms|s|m|h|d)?\s*$/u,
  /^\s*\d+(\.\d+)?\s*(ms|s|m|h|d)?\s*$/u,
  /^\s*\d+(\.\d+)?\s*(ms|s|m|h|d)?\s*$/u,
  /^\s*\d+(\.\d+)?\s*(ms|s|m|h|d)?\s*$/u,
  /^\s*\d+(\.\d+)?\s*(ms|s|m|h|d)?\s*$/u,
  /(^[A-Za-z0-9][A-Za-z0-9_.-]*$)/u,
  /^[A-Za-z0-9][A-Za-z0-9_.-]*$/u,
  /(^description$|^lifetime$|^usage$|^keyUsage$|^keyTypes$|^commonName$)/u,
  /^\s*\d+(\.\d+)?\s*(ms|s|m|h|d)?\s*$/u,
  /(^[A-Za-z0-9][A-Za-z0-9_.-]*$)/u,
  /^[A-Za-z0-9][A-Za-z0-9_.-]*$/u,
  /(^allow$|^deny$|^challenges$|^maxLifetime$|^profiles$)/u,
  /^\s*\d+(\.\d+)?\s*(ms|s|m|h|d)?\s*$/u,
];

const check_0 = ((value) => ((typeof value === "object" && value !== null && !(Array.isArray(value))) && ((((((((((((("server" in value && "dataDir" in value) && "ca" in value) && "acme" in value) && "validation" in value) && "policy" in value) && "crl" in value) && "eab" in value) && "limits" in value) && "profiles" in value) && "policies" in value) && "ledger" in value) && Object.getOwnPropertyNames(value).length === 12) && (((((((((((((typeof value.server === "object" && value.server !== null && !(Array.isArray(value.server))) && ((((((((("listen" in value.server && "baseUrl" in value.server) && "tls" in value.server) && "bodyLimit" in value.server) && "headersTimeout" in value.server) && "requestTimeout" in value.server) && "keepAliveTimeout" in value.server) && "maxConnections" in value.server) && Object.getOwnPropertyNames(value.server).length === 8) && ((((((((typeof value.server.listen === "string" && (value.server.listen.length >= 2 || (value.server.listen.length >= 1 && Guard.CodePointCount(value.server.listen) >= 1))) && typeof value.server.baseUrl === "string") && ((typeof value.server.tls === "object" && value.server.tls !== null && !(Array.isArray(value.server.tls))) && (((("enabled" in value.server.tls && "hostnames" in value.server.tls) && "lifetime" in value.server.tls) && Object.getOwnPropertyNames(value.server.tls).length === 3) && ((typeof value.server.tls.enabled === "boolean" && (Array.isArray(value.server.tls.hostnames) && value.server.tls.hostnames.every((unique_0, index) => ((typeof unique_0 === "string" && (unique_0.length >= 2 || (unique_0.length >= 1 && Guard.CodePointCount(unique_0) >= 1))))))) && ((typeof value.server.tls.lifetime === "string" && External[0].test(value.server.tls.lifetime)) || (Number.isFinite(value.server.tls.lifetime) && value.server.tls.lifetime >= 0)))))) && (Number.isInteger(value.server.bodyLimit) && (!((Number.isFinite(value.server.bodyLimit) || typeof value.server.bodyLimit === "bigint")) || value.server.bodyLimit >= 1024))) && ((typeof value.server.headersTimeout === "string" && External[1].test(value.server.headersTimeout)) || (Number.isFinite(value.server.headersTimeout) && value.server.headersTimeout >= 0))) && ((typeof value.server.requestTimeout === "string" && External[2].test(value.server.requestTimeout)) || (Number.isFinite(value.server.requestTimeout) && value.server.requestTimeout >= 0))) && ((typeof value.server.keepAliveTimeout === "string" && External[3].test(value.server.keepAliveTimeout)) || (Number.isFinite(value.server.keepAliveTimeout) && value.server.keepAliveTimeout >= 0))) && (Number.isInteger(value.server.maxConnections) && (!((Number.isFinite(value.server.maxConnections) || typeof value.server.maxConnections === "bigint")) || value.server.maxConnections >= 0))))) && (typeof value.dataDir === "string" && (value.dataDir.length >= 2 || (value.dataDir.length >= 1 && Guard.CodePointCount(value.dataDir) >= 1)))) && ((typeof value.ca === "object" && value.ca !== null && !(Array.isArray(value.ca))) && ((((((("name" in value.ca && "keyAlgorithm" in value.ca) && "rootLifetime" in value.ca) && "intermediateLifetime" in value.ca) && "leafLifetime" in value.ca) && "keyPassphraseFile" in value.ca) && Object.getOwnPropertyNames(value.ca).length === 6) && ((((((typeof value.ca.name === "string" && (value.ca.name.length >= 2 || (value.ca.name.length >= 1 && Guard.CodePointCount(value.ca.name) >= 1))) && (((((typeof value.ca.keyAlgorithm === "string" && value.ca.keyAlgorithm === "ecdsa-p256") || (typeof value.ca.keyAlgorithm === "string" && value.ca.keyAlgorithm === "ecdsa-p384")) || (typeof value.ca.keyAlgorithm === "string" && value.ca.keyAlgorithm === "rsa-2048")) || (typeof value.ca.keyAlgorithm === "string" && value.ca.keyAlgorithm === "rsa-3072")) || (typeof value.ca.keyAlgorithm === "string" && value.ca.keyAlgorithm === "rsa-4096"))) && ((typeof value.ca.rootLifetime === "string" && External[4].test(value.ca.rootLifetime)) || (Number.isFinite(value.ca.rootLifetime) && value.ca.rootLifetime >= 0))) && ((typeof value.ca.intermediateLifetime === "string" && External[5].test(value.ca.intermediateLifetime)) || (Number.isFinite(value.ca.intermediateLifetime) && value.ca.intermediateLifetime >= 0))) && ((typeof value.ca.leafLifetime === "string" && External[6].test(value.ca.leafLifetime)) || (Number.isFinite(value.ca.leafLifetime) && value.ca.leafLifetime >= 0))) && typeof value.ca.keyPassphraseFile === "string")))) && ((typeof value.acme === "object" && value.acme !== null && !(Array.isArray(value.acme))) && ((("termsOfService" in value.acme && "website" in value.acme) && Object.getOwnPropertyNames(value.acme).length === 2) && (typeof value.acme.termsOfService === "string" && typeof value.acme.website === "string")))) && ((typeof value.validation === "object" && value.validation !== null && !(Array.isArray(value.validation))) && (((((((("http01Port" in value.validation && "tlsAlpn01Port" in value.validation) && "dnsResolvers" in value.validation) && "timeout" in value.validation) && "answerWithin" in value.validation) && "caa" in value.validation) && "testFailureRate" in value.validation) && Object.getOwnPropertyNames(value.validation).length === 7) && (((((((Number.isInteger(value.validation.http01Port) && (!((Number.isFinite(value.validation.http01Port) || typeof value.validation.http01Port === "bigint")) || (value.validation.http01Port >= 1 && value.validation.http01Port <= 65535))) && (Number.isInteger(value.validation.tlsAlpn01Port) && (!((Number.isFinite(value.validation.tlsAlpn01Port) || typeof value.validation.tlsAlpn01Port === "bigint")) || (value.validation.tlsAlpn01Port >= 1 && value.validation.tlsAlpn01Port <= 65535)))) && (Array.isArray(value.validation.dnsResolvers) && value.validation.dnsResolvers.every((unique_1, index) => ((typeof unique_1 === "string" && (unique_1.length >= 2 || (unique_1.length >= 1 && Guard.CodePointCount(unique_1) >= 1))))))) && ((typeof value.validation.timeout === "string" && External[7].test(value.validation.timeout)) || (Number.isFinite(value.validation.timeout) && value.validation.timeout >= 0))) && ((typeof value.validation.answerWithin === "string" && External[8].test(value.validation.answerWithin)) || (Number.isFinite(value.validation.answerWithin) && value.validation.answerWithin >= 0))) && ((typeof value.validation.caa === "object" && value.validation.caa !== null && !(Array.isArray(value.validation.caa))) && ((("enabled" in value.validation.caa && "identities" in value.validation.caa) && Object.getOwnPropertyNames(value.validation.caa).length === 2) && (typeof value.validation.caa.enabled === "boolean" && (Array.isArray(value.validation.caa.identities) && value.validation.caa.identities.every((unique_2, index) => ((typeof unique_2 === "string" && (unique_2.length >= 2 || (unique_2.length >= 1 && Guard.CodePointCount(unique_2) >= 1)))))))))) && (Number.isFinite(value.validation.testFailureRate) && (value.validation.testFailureRate >= 0 && value.validation.testFailureRate <= 1)))))) && ((typeof value.policy === "object" && value.policy !== null && !(Array.isArray(value.policy))) && ((((("maxLifetime" in value.policy && "orderLifetime" in value.policy) && "pendingAuthorizationLifetime" in value.policy) && "authorizationLifetime" in value.policy) && Object.getOwnPropertyNames(value.policy).length === 4) && (((((typeof value.policy.maxLifetime === "string" && External[9].test(value.policy.maxLifetime)) || (Number.isFinite(value.policy.maxLifetime) && value.policy.maxLifetime >= 0)) && ((typeof value.policy.orderLifetime === "string" && External[10].test(value.policy.orderLifetime)) || (Number.isFinite(value.policy.orderLifetime) && value.policy.orderLifetime >= 0))) && ((typeof value.policy.pendingAuthorizationLifetime === "string" && External[11].test(value.policy.pendingAuthorizationLifetime)) || (Number.isFinite(value.policy.pendingAuthorizationLifetime) && value.policy.pendingAuthorizationLifetime >= 0))) && ((typeof value.policy.authorizationLifetime === "string" && External[12].test(value.policy.authorizationLifetime)) || (Number.isFinite(value.policy.authorizationLifetime) && value.policy.authorizationLifetime >= 0)))))) && ((typeof value.crl === "object" && value.crl !== null && !(Array.isArray(value.crl))) && ((((("validity" in value.crl && "refresh" in value.crl) && "rootValidity" in value.crl) && "checkInterval" in value.crl) && Object.getOwnPropertyNames(value.crl).length === 4) && (((((typeof value.crl.validity === "string" && External[13].test(value.crl.validity)) || (Number.isFinite(value.crl.validity) && value.crl.validity >= 0)) && ((typeof value.crl.refresh === "string" && External[14].test(value.crl.refresh)) || (Number.isFinite(value.crl.refresh) && value.crl.refresh >= 0))) && ((typeof value.crl.rootValidity === "string" && External[15].test(value.crl.rootValidity)) || (Number.isFinite(value.crl.rootValidity) && value.crl.rootValidity >= 0))) && ((typeof value.crl.checkInterval === "string" && External[16].test(value.crl.checkInterval)) || (Number.isFinite(value.crl.checkInterval) && value.crl.checkInterval >= 0)))))) && ((typeof value.eab === "object" && value.eab !== null && !(Array.isArray(value.eab))) && (("required" in value.eab && Object.getOwnPropertyNames(value.eab).length === 1) && typeof value.eab.required === "boolean"))) && ((typeof value.limits === "object" && value.limits !== null && !(Array.isArray(value.limits))) && ((((("newOrdersPerAccountPerHour" in value.limits && "newAccountsPerIpPerHour" in value.limits) && "pendingAuthorizationsPerAccount" in value.limits) && "identifiersPerOrder" in value.limits) && Object.getOwnPropertyNames(value.limits).length === 4) && ((((Number.isInteger(value.limits.newOrdersPerAccountPerHour) && (!((Number.isFinite(value.limits.newOrdersPerAccountPerHour) || typeof value.limits.newOrdersPerAccountPerHour === "bigint")) || value.limits.newOrdersPerAccountPerHour >= 0)) && (Number.isInteger(value.limits.newAccountsPerIpPerHour) && (!((Number.isFinite(value.limits.newAccountsPerIpPerHour) || typeof value.limits.newAccountsPerIpPerHour === "bigint")) || value.limits.newAccountsPerIpPerHour >= 0))) && (Number.isInteger(value.limits.pendingAuthorizationsPerAccount) && (!((Number.isFinite(value.limits.pendingAuthorizationsPerAccount) || typeof value.limits.pendingAuthorizationsPerAccount === "bigint")) || value.limits.pendingAuthorizationsPerAccount >= 0))) && (Number.isInteger(value.limits.identifiersPerOrder) && (!((Number.isFinite(value.limits.identifiersPerOrder) || typeof value.limits.identifiersPerOrder === "bigint")) || (value.limits.identifiersPerOrder >= 0 && value.limits.identifiersPerOrder <= 1000))))))) && ((typeof value.profiles === "object" && value.profiles !== null && !(Array.isArray(value.profiles))) && (Object.getOwnPropertyNames(value.profiles).every((unique_3, unique_4) => ((External[17].test(unique_3) || false))) && Object.entries(value.profiles).every(([unique_5, unique_6], _) => ((!(External[18].test(unique_5)) || ((typeof unique_6 === "object" && unique_6 !== null && !(Array.isArray(unique_6))) && (("description" in unique_6 && Object.getOwnPropertyNames(unique_6).every((unique_7, unique_8) => ((External[19].test(unique_7) || false)))) && ((((((typeof unique_6.description === "string" && (unique_6.description.length >= 2 || (unique_6.description.length >= 1 && Guard.CodePointCount(unique_6.description) >= 1))) && (unique_6.lifetime === undefined || (!("lifetime" in unique_6) || ((typeof unique_6.lifetime === "string" && External[20].test(unique_6.lifetime)) || (Number.isFinite(unique_6.lifetime) && unique_6.lifetime >= 0))))) && (unique_6.usage === undefined || (!("usage" in unique_6) || (((typeof unique_6.usage === "string" && unique_6.usage === "server") || (typeof unique_6.usage === "string" && unique_6.usage === "client")) || (typeof unique_6.usage === "string" && unique_6.usage === "both"))))) && (unique_6.keyUsage === undefined || (!("keyUsage" in unique_6) || (Array.isArray(unique_6.keyUsage) && (unique_6.keyUsage.every((unique_9, index) => (((typeof unique_9 === "string" && unique_9 === "digitalSignature") || (typeof unique_9 === "string" && unique_9 === "keyEncipherment")))) && unique_6.keyUsage.length >= 1))))) && (unique_6.keyTypes === undefined || (!("keyTypes" in unique_6) || (Array.isArray(unique_6.keyTypes) && (unique_6.keyTypes.every((unique_10, index) => ((((typeof unique_10 === "string" && unique_10 === "rsa") || (typeof unique_10 === "string" && unique_10 === "ecdsa")) || (typeof unique_10 === "string" && unique_10 === "ed25519")))) && unique_6.keyTypes.length >= 1))))) && (unique_6.commonName === undefined || (!("commonName" in unique_6) || typeof unique_6.commonName === "boolean"))))))))))) && ((typeof value.policies === "object" && value.policies !== null && !(Array.isArray(value.policies))) && (Object.getOwnPropertyNames(value.policies).every((unique_11, unique_12) => ((External[21].test(unique_11) || false))) && Object.entries(value.policies).every(([unique_13, unique_14], _) => ((!(External[22].test(unique_13)) || ((typeof unique_14 === "object" && unique_14 !== null && !(Array.isArray(unique_14))) && (Object.getOwnPropertyNames(unique_14).every((unique_15, unique_16) => ((External[23].test(unique_15) || false))) && (((((unique_14.allow === undefined || (!("allow" in unique_14) || (Array.isArray(unique_14.allow) && unique_14.allow.every((unique_17, index) => ((typeof unique_17 === "string" && (unique_17.length >= 2 || (unique_17.length >= 1 && Guard.CodePointCount(unique_17) >= 1)))))))) && (unique_14.deny === undefined || (!("deny" in unique_14) || (Array.isArray(unique_14.deny) && unique_14.deny.every((unique_18, index) => ((typeof unique_18 === "string" && (unique_18.length >= 2 || (unique_18.length >= 1 && Guard.CodePointCount(unique_18) >= 1))))))))) && (unique_14.challenges === undefined || (!("challenges" in unique_14) || (Array.isArray(unique_14.challenges) && unique_14.challenges.every((unique_19, index) => ((((typeof unique_19 === "string" && unique_19 === "http-01") || (typeof unique_19 === "string" && unique_19 === "dns-01")) || (typeof unique_19 === "string" && unique_19 === "tls-alpn-01")))))))) && (unique_14.maxLifetime === undefined || (!("maxLifetime" in unique_14) || ((typeof unique_14.maxLifetime === "string" && External[24].test(unique_14.maxLifetime)) || (Number.isFinite(unique_14.maxLifetime) && unique_14.maxLifetime >= 0))))) && (unique_14.profiles === undefined || (!("profiles" in unique_14) || (Array.isArray(unique_14.profiles) && unique_14.profiles.every((unique_20, index) => ((typeof unique_20 === "string" && (unique_20.length >= 2 || (unique_20.length >= 1 && Guard.CodePointCount(unique_20) >= 1))))))))))))))))) && ((typeof value.ledger === "object" && value.ledger !== null && !(Array.isArray(value.ledger))) && (((("url" in value.ledger && "passwordFile" in value.ledger) && "poolSize" in value.ledger) && Object.getOwnPropertyNames(value.ledger).length === 3) && ((typeof value.ledger.url === "string" && typeof value.ledger.passwordFile === "string") && (Number.isInteger(value.ledger.poolSize) && (!((Number.isFinite(value.ledger.poolSize) || typeof value.ledger.poolSize === "bigint")) || (value.ledger.poolSize >= 1 && value.ledger.poolSize <= 1000))))))))));

function check(value) { return check_0(value) }

/** True when `value` is a config ConfigSchema accepts: typebox's compiled check, without loading typebox. */
export function matchesConfigSchema(value: unknown): boolean {
  return check(value);
}
