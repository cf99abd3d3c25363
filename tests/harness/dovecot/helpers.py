#!/usr/bin/env python3
"""Small helpers around the test Dovecot (Python standard library only).

Started by start.sh, which passes a working directory; writes DIR/helpers.json with the ports
once every listener is up, then runs until killed:

- relay: the smallest SMTP server Dovecot's submission service can relay to. It accepts any
  message and delivers it to Dovecot's LMTP socket (DIR/run/lmtp) with smtplib.LMTP, so mail sent
  through submission lands in the recipient's real mailbox.
- plain_smtp, plain_imap, plain_pop3: servers that do NOT offer STARTTLS (but do offer AUTH,
  like a stripped or downgraded server would). Each appends the command verb of every line it
  receives (never the arguments) to DIR/plain-<protocol>.log, so a test can check that a client
  asked for capabilities and never sent AUTH/LOGIN/USER/PASS.
- silent: accepts connections and never says anything (for timeout tests).
"""

import asyncio
import json
import os
import smtplib
import sys

WORKDIR = sys.argv[1]
LMTP_SOCKET = os.path.join(WORKDIR, "run", "lmtp")


def record(protocol, verb):
    with open(os.path.join(WORKDIR, f"plain-{protocol}.log"), "a") as f:
        f.write(verb.upper() + "\n")


async def send(writer, text):
    writer.write(text.encode())
    await writer.drain()


def deliver(sender, recipients, data):
    with smtplib.LMTP(LMTP_SOCKET) as lmtp:
        lmtp.sendmail(sender, recipients, data)


async def relay(reader, writer):
    """SMTP without extensions; each DATA is delivered over LMTP before it is acknowledged."""
    await send(writer, "220 relay.example.test ESMTP test relay\r\n")
    sender, recipients = "", []
    while True:
        line = await reader.readline()
        if not line:
            break
        text = line.decode("utf-8", "replace").rstrip("\r\n")
        verb = text.split(" ", 1)[0].upper()
        if verb in ("EHLO", "HELO"):
            await send(writer, "250 relay.example.test\r\n")
        elif verb == "MAIL":
            sender, recipients = text.split(":", 1)[1].strip().split(" ")[0].strip("<>"), []
            await send(writer, "250 2.1.0 OK\r\n")
        elif verb == "RCPT":
            recipients.append(text.split(":", 1)[1].strip().split(" ")[0].strip("<>"))
            await send(writer, "250 2.1.5 OK\r\n")
        elif verb == "DATA":
            await send(writer, "354 End data with <CR><LF>.<CR><LF>\r\n")
            body = bytearray()
            while True:
                chunk = await reader.readline()
                if not chunk or chunk in (b".\r\n", b".\n"):
                    break
                body += chunk[1:] if chunk.startswith(b"..") else chunk
            try:
                await asyncio.to_thread(deliver, sender, recipients, bytes(body))
                await send(writer, "250 2.0.0 delivered\r\n")
            except Exception as e:  # the reason goes back to Dovecot, which logs it
                reason = " ".join(str(e).split())[:300]
                await send(writer, f"451 4.3.0 LMTP delivery failed: {reason}\r\n")
        elif verb == "RSET":
            sender, recipients = "", []
            await send(writer, "250 2.0.0 OK\r\n")
        elif verb == "NOOP":
            await send(writer, "250 2.0.0 OK\r\n")
        elif verb == "QUIT":
            await send(writer, "221 2.0.0 Bye\r\n")
            break
        else:
            await send(writer, "502 5.5.1 Unknown command\r\n")
    writer.close()


async def plain_smtp(reader, writer):
    await send(writer, "220 plain.example.test ESMTP no STARTTLS here\r\n")
    while True:
        line = await reader.readline()
        if not line:
            break
        verb = line.decode("utf-8", "replace").strip().split(" ", 1)[0]
        record("smtp", verb)
        verb = verb.upper()
        if verb in ("EHLO", "HELO"):
            await send(writer, "250-plain.example.test\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n")
        elif verb == "AUTH":
            await send(writer, "535 5.7.8 Authentication credentials invalid\r\n")
        elif verb == "QUIT":
            await send(writer, "221 2.0.0 Bye\r\n")
            break
        else:
            await send(writer, "502 5.5.1 Unknown command\r\n")
    writer.close()


async def plain_imap(reader, writer):
    caps = "IMAP4rev1 AUTH=PLAIN"
    await send(writer, f"* OK [CAPABILITY {caps}] no STARTTLS here\r\n")
    while True:
        line = await reader.readline()
        if not line:
            break
        parts = line.decode("utf-8", "replace").strip().split(" ")
        tag, verb = parts[0], (parts[1] if len(parts) > 1 else "")
        record("imap", verb)
        verb = verb.upper()
        if verb == "CAPABILITY":
            await send(writer, f"* CAPABILITY {caps}\r\n{tag} OK done\r\n")
        elif verb in ("LOGIN", "AUTHENTICATE"):
            await send(writer, f"{tag} NO [AUTHENTICATIONFAILED] Authentication failed.\r\n")
        elif verb == "LOGOUT":
            await send(writer, f"* BYE bye\r\n{tag} OK done\r\n")
            break
        else:
            await send(writer, f"{tag} BAD unknown command\r\n")
    writer.close()


async def plain_pop3(reader, writer):
    await send(writer, "+OK no STLS here\r\n")
    while True:
        line = await reader.readline()
        if not line:
            break
        verb = line.decode("utf-8", "replace").strip().split(" ", 1)[0]
        record("pop3", verb)
        verb = verb.upper()
        if verb == "CAPA":
            await send(writer, "+OK\r\nUSER\r\nSASL PLAIN\r\n.\r\n")
        elif verb in ("USER", "PASS", "AUTH"):
            await send(writer, "-ERR [AUTH] Authentication failed.\r\n")
        elif verb == "QUIT":
            await send(writer, "+OK bye\r\n")
            break
        else:
            await send(writer, "-ERR unknown command\r\n")
    writer.close()


async def silent(reader, writer):
    # Hold the connection until the client gives up.
    await reader.read()
    writer.close()


async def main():
    handlers = {
        "relay": relay,
        "plain_smtp": plain_smtp,
        "plain_imap": plain_imap,
        "plain_pop3": plain_pop3,
        "silent": silent,
    }
    ports, servers = {}, []
    for name, handler in handlers.items():
        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        ports[name] = server.sockets[0].getsockname()[1]
        servers.append(server)
    ready = os.path.join(WORKDIR, "helpers.json")
    with open(ready + ".tmp", "w") as f:
        json.dump(ports, f)
    os.rename(ready + ".tmp", ready)
    await asyncio.gather(*(s.serve_forever() for s in servers))


if __name__ == "__main__":
    asyncio.run(main())
