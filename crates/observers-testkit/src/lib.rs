//! Loopback servers that speak the OpenAI and Hugging Face Hub wire protocols, for offline
//! tests (being written: nothing here yet).
