"""WeChat and WeCom: the signed callback protocol, replay protection and the chat bridge."""
