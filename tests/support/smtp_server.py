"""A local SMTP server for the email tests (aiosmtpd, the real protocol).

Listens on 127.0.0.1 (port 0, or the port given as the only argument), prints {"port": N} on the first line of
stdout, then one JSON line per message received: envelope sender and recipients, and the parsed message
(headers, the text/plain and text/html parts, decoded). Exits when its stdin closes, so it never outlives the
test that started it.
"""

import asyncio
import email
import email.policy
import json
import sys

from aiosmtpd.smtp import SMTP


class Handler:
    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        text = message.get_body(("plain",))
        html = message.get_body(("html",))
        print(
            json.dumps(
                {
                    "mail_from": envelope.mail_from,
                    "rcpt_tos": envelope.rcpt_tos,
                    "from": str(message["from"]),
                    "to": str(message["to"]),
                    "subject": str(message["subject"]),
                    "message_id": str(message["message-id"]),
                    "content_type": message.get_content_type(),
                    "text": text.get_content() if text else None,
                    "html": html.get_content() if html else None,
                }
            ),
            flush=True,
        )
        return "250 Message accepted for delivery"


async def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(Handler(), hostname="smtp.test"), "127.0.0.1", port
    )
    print(json.dumps({"port": server.sockets[0].getsockname()[1]}), flush=True)
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


asyncio.run(main())
