using System.Buffers.Binary;
using System.Text;
using Ori.Sockets.Protocol;

namespace Ori.Sockets;

/// <summary>
/// One text message encoded once, WebSocket header included, ready to be written to any number of
/// sockets. Publishing builds one frame whatever the number of subscribers; each subscriber's
/// writer copies its bytes. A frame is immutable and safe to share between threads.
/// </summary>
public sealed class SocketFrame
{
    private SocketFrame(byte[] buffer, int headerLength)
    {
        Buffer = buffer;
        HeaderLength = headerLength;
    }

    /// <summary>The message text as UTF-8, without the WebSocket header.</summary>
    public ReadOnlyMemory<byte> Payload => Buffer.AsMemory(HeaderLength);

    /// <summary>The length of the whole frame on the wire, header included.</summary>
    public int Length => Buffer.Length;

    /// <summary>The frame as written to the wire.</summary>
    internal byte[] Buffer { get; }

    internal int HeaderLength { get; }

    /// <summary>Whether this is a close frame (nothing may be written after it).</summary>
    internal bool IsClose => (Buffer[0] & 0x0F) == (byte)Opcode.Close;

    /// <summary>Encodes a text message.</summary>
    /// <param name="text">The message text.</param>
    /// <returns>The frame.</returns>
    public static SocketFrame Text(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var length = Encoding.UTF8.GetByteCount(text);
        var headerLength = HeaderLengthFor(length);
        var buffer = new byte[headerLength + length];
        WriteHeader(buffer, Opcode.Text, length);
        Encoding.UTF8.GetBytes(text, buffer.AsSpan(headerLength));
        return new SocketFrame(buffer, headerLength);
    }

    /// <summary>Encodes a text message given as UTF-8.</summary>
    /// <param name="utf8">The message text as UTF-8. It is validated.</param>
    /// <returns>The frame.</returns>
    /// <exception cref="ArgumentException">The bytes are not valid UTF-8.</exception>
    public static SocketFrame Text(ReadOnlySpan<byte> utf8)
    {
        if (!System.Text.Unicode.Utf8.IsValid(utf8))
        {
            throw new ArgumentException("A text frame must be valid UTF-8.", nameof(utf8));
        }

        return Create(Opcode.Text, utf8);
    }

    internal static SocketFrame Create(Opcode opcode, ReadOnlySpan<byte> payload)
    {
        var headerLength = HeaderLengthFor(payload.Length);
        var buffer = new byte[headerLength + payload.Length];
        WriteHeader(buffer, opcode, payload.Length);
        payload.CopyTo(buffer.AsSpan(headerLength));
        return new SocketFrame(buffer, headerLength);
    }

    internal static SocketFrame Close(int code, string reason)
    {
        // A close payload is the code and at most 123 bytes of UTF-8 reason (RFC 6455 5.5).
        Span<byte> payload = stackalloc byte[125];
        BinaryPrimitives.WriteUInt16BigEndian(payload, (ushort)code);
        var reasonLength = Encoding.UTF8.GetBytes(reason.AsSpan(0, Math.Min(reason.Length, 123)), payload[2..]);
        return Create(Opcode.Close, payload[..(2 + reasonLength)]);
    }

    private static int HeaderLengthFor(int payloadLength) => payloadLength switch
    {
        < 126 => 2,
        <= ushort.MaxValue => 4,
        _ => 10,
    };

    private static void WriteHeader(Span<byte> destination, Opcode opcode, int payloadLength)
    {
        // Server frames are never masked (RFC 6455 5.1), so the same bytes suit every socket.
        destination[0] = (byte)(0x80 | (byte)opcode);
        if (payloadLength < 126)
        {
            destination[1] = (byte)payloadLength;
        }
        else if (payloadLength <= ushort.MaxValue)
        {
            destination[1] = 126;
            BinaryPrimitives.WriteUInt16BigEndian(destination[2..], (ushort)payloadLength);
        }
        else
        {
            destination[1] = 127;
            BinaryPrimitives.WriteUInt64BigEndian(destination[2..], (ulong)payloadLength);
        }
    }
}
