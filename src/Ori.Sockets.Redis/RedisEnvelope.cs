using System.Buffers.Binary;
using System.Text;
using System.Text.Unicode;

namespace Ori.Sockets.Redis;

/// <summary>What a message on Redis asks the receiving instances to do.</summary>
internal enum RedisMessageKind : byte
{
    /// <summary>Deliver to the local subscribers of a topic (on the topic's channel).</summary>
    Topic = (byte)'t',

    /// <summary>Deliver to one socket, if it is connected here (on the control channel).</summary>
    Send = (byte)'s',

    /// <summary>Deliver to every local socket (on the control channel).</summary>
    Broadcast = (byte)'b',

    /// <summary>Close one socket with 1000, if it is connected here (on the control channel).</summary>
    Disconnect = (byte)'d',

    /// <summary>Deliver to every local socket of a user, leaving out the sockets listed in "except" (comma-separated).</summary>
    User = (byte)'u',

    /// <summary>Close every local socket of a user with 1008; the payload is the reason.</summary>
    DisconnectUser = (byte)'x',

    /// <summary>
    /// A push to a recoverable topic, published by the history script (on the topic's channel): its payload is
    /// <c>offset,epoch,push</c>. Its sender's instance delivers it from the channel too (not before publishing).
    /// </summary>
    Positioned = (byte)'o',

    /// <summary>
    /// A subscription check: its sender waits for its own probe to come back, which proves the channel's
    /// subscription is live on Redis; every other receiver ignores it.
    /// </summary>
    Probe = (byte)'p',
}

/// <summary>
/// The bytes of one message on Redis: a version, a kind, its deadline, the origin instance, a target (topic or
/// socket id), a socket to leave out, then the WebSocket text payload, encoded once by the publisher.
/// <code>[2][kind][i64 deadline, Unix ms, 0 for none][u16 len][origin][u16 len][target][u16 len][except][payload…]</code>
/// The deadline is when the publisher stops waiting for Redis and tells its caller the publish failed: a receiver
/// drops a message it gets later (Redis stalled and ran it afterwards), so that a failed publish is never delivered.
/// Version 3 adds a W3C <c>traceparent</c> after "except" (<c>[u16 len][traceparent]</c>): it is written only when the
/// publish has a trace context to carry, so that an instance without tracing sends (and reads) version 2 as before.
/// Version 1 (no deadline) is still read.
/// </summary>
internal static class RedisEnvelope
{
    public const byte Version = 2;
    public const byte VersionWithTrace = 3;
    private const byte VersionWithoutDeadline = 1;
    private const int MaxTrace = 256;
    private const int MaxName = 1024;

    // "except" lists socket ids (36 characters each, comma-separated) for sends to a user.
    private const int MaxExcept = 16 * 1024;

    public static byte[] Encode(RedisMessageKind kind, string origin, string? target, string? except, ReadOnlySpan<byte> payload, long deadline = 0, string? trace = null)
    {
        var originLength = Encoding.UTF8.GetByteCount(origin);
        var targetLength = target is null ? 0 : Encoding.UTF8.GetByteCount(target);
        var exceptLength = except is null ? 0 : Encoding.UTF8.GetByteCount(except);
        var traceLength = trace is null || trace.Length > MaxTrace ? -1 : Encoding.UTF8.GetByteCount(trace);
        var traceBytes = traceLength < 0 ? 0 : 2 + traceLength;
        var bytes = new byte[2 + 8 + 6 + originLength + targetLength + exceptLength + traceBytes + payload.Length];
        bytes[0] = traceLength < 0 ? Version : VersionWithTrace;
        bytes[1] = (byte)kind;
        BinaryPrimitives.WriteInt64BigEndian(bytes.AsSpan(2), deadline);
        var span = bytes.AsSpan(10);
        span = WriteString(span, origin, originLength, MaxName);
        span = WriteString(span, target, targetLength, MaxName);
        span = WriteString(span, except, exceptLength, MaxExcept);
        if (traceLength >= 0)
        {
            span = WriteString(span, trace, traceLength, MaxTrace);
        }

        payload.CopyTo(span);
        return bytes;
    }

    /// <summary>Reads a message; false when it is malformed in any way.</summary>
    public static bool TryDecode(ReadOnlyMemory<byte> message, out RedisMessageKind kind, out string origin, out string target, out string? except, out ReadOnlyMemory<byte> payload) =>
        TryDecode(message, out kind, out origin, out target, out except, out payload, out _);

    /// <summary>Reads a message and its deadline (0 when it has none); false when it is malformed in any way.</summary>
    public static bool TryDecode(ReadOnlyMemory<byte> message, out RedisMessageKind kind, out string origin, out string target, out string? except, out ReadOnlyMemory<byte> payload, out long deadline) =>
        TryDecode(message, out kind, out origin, out target, out except, out payload, out deadline, out _);

    /// <summary>
    /// Reads a message, its deadline (0 when it has none) and the trace context it carries (null when none); false
    /// when it is malformed in any way.
    /// </summary>
    public static bool TryDecode(ReadOnlyMemory<byte> message, out RedisMessageKind kind, out string origin, out string target, out string? except, out ReadOnlyMemory<byte> payload, out long deadline, out string? trace)
    {
        kind = default;
        origin = target = string.Empty;
        except = null;
        trace = null;
        payload = default;
        deadline = 0;
        var span = message.Span;
        var traced = span.Length > 0 && span[0] == VersionWithTrace;
        var headerLength = span.Length > 0 && (span[0] == Version || traced) ? 10 : 2;
        if (span.Length < headerLength + 6 || (span[0] != Version && !traced && span[0] != VersionWithoutDeadline) || !Enum.IsDefined((RedisMessageKind)span[1]))
        {
            return false;
        }

        kind = (RedisMessageKind)span[1];
        if (headerLength == 10)
        {
            deadline = BinaryPrimitives.ReadInt64BigEndian(span[2..]);
            if (deadline < 0)
            {
                return false;
            }
        }

        var offset = headerLength;
        if (!TryReadString(span, ref offset, out origin, MaxName) || origin.Length == 0
            || !TryReadString(span, ref offset, out target, MaxName)
            || !TryReadString(span, ref offset, out var exceptText, MaxExcept))
        {
            return false;
        }

        except = exceptText.Length == 0 ? null : exceptText;
        if (traced)
        {
            if (!TryReadString(span, ref offset, out var traceText, MaxTrace))
            {
                return false;
            }

            trace = traceText.Length == 0 ? null : traceText;
        }

        payload = message[offset..];
        var needsTarget = kind is not RedisMessageKind.Broadcast;
        var needsPayload = kind is not (RedisMessageKind.Disconnect or RedisMessageKind.Probe or RedisMessageKind.DisconnectUser);
        if ((needsTarget && target.Length == 0) || (needsPayload && payload.IsEmpty) || !Utf8.IsValid(payload.Span))
        {
            return false;
        }

        return kind switch
        {
            RedisMessageKind.Topic or RedisMessageKind.Positioned => SocketNames.IsValidTopic(target),
            RedisMessageKind.User or RedisMessageKind.DisconnectUser => SocketNames.IsValidUserId(target),
            _ => true,
        };
    }

    private static Span<byte> WriteString(Span<byte> span, string? value, int length, int max)
    {
        if (length > max)
        {
            throw new ArgumentException($"A name or list of {length} bytes is longer than {max} bytes.", nameof(value));
        }

        BinaryPrimitives.WriteUInt16BigEndian(span, (ushort)length);
        if (value is not null)
        {
            Encoding.UTF8.GetBytes(value, span[2..]);
        }

        return span[(2 + length)..];
    }

    private static bool TryReadString(ReadOnlySpan<byte> span, ref int offset, out string value, int max)
    {
        value = string.Empty;
        if (span.Length < offset + 2)
        {
            return false;
        }

        var length = BinaryPrimitives.ReadUInt16BigEndian(span[offset..]);
        offset += 2;
        if (length > max || span.Length < offset + length || !Utf8.IsValid(span.Slice(offset, length)))
        {
            return false;
        }

        value = Encoding.UTF8.GetString(span.Slice(offset, length));
        offset += length;
        return true;
    }
}
