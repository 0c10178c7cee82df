"""The surfaces around the assistant: the command line, the HTTP app (REST, OpenAI, admin), WeChat/WeCom, the
chat page's server side, and the stores they keep. They reach the answering layer through `qa.service`.

Nothing is imported here: the command line uses qa.service.redact without loading the web stack."""
