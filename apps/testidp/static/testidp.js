// Submits the SAML HTTP-POST binding form (SAML 2.0 bindings §3.5.4); the button does without it.
document.getElementById("saml-post").submit();
