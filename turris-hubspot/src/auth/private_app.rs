//! Private-app access tokens: static, no refresh.
