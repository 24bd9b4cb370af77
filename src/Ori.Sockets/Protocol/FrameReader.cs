using System.Buffers;
using System.Buffers.Binary;
using System.Text.Unicode;

namespace Ori.Sockets.Protocol;

/// <summary>What <see cref="FrameReader.Read"/> found at the start of the buffer.</summary>
internal enum FrameEvent
{
    /// <summary>No whole frame yet: read more bytes.</summary>
    NeedMore,

    /// <summary>A fragment of a text message was taken into the message buffer; the message is not complete.</summary>
    Fragment,

    /// <summary>A whole text message, valid UTF-8, is in <see cref="FrameReader.Message"/> until <see cref="FrameReader.ReleaseMessage"/>.</summary>
    Message,

    /// <summary>A ping; its payload was copied to the control buffer.</summary>
    Ping,

    /// <summary>A pong.</summary>
    Pong,

    /// <summary>A close frame; the value is the close code to answer with (the peer's, when it may be sent).</summary>
    Close,

    /// <summary>The peer broke the protocol; the value is the close code that fails the connection.</summary>
    Fault,
}

/// <summary>
/// Reads client frames (RFC 6455) from a byte sequence: header checks, control frames, reassembly of
/// fragmented text messages into one pooled buffer, the receive limit and UTF-8 validation. It knows
/// nothing of sockets: the receive loop feeds it what the transport has and acts on each event.
/// Every length is checked before it is used.
/// </summary>
internal sealed class FrameReader(int receiveLimit) : IDisposable
{
    /// <summary>The largest control frame payload (RFC 6455 5.5).</summary>
    public const int MaxControlPayload = 125;

    private byte[]? _message;
    private int _messageLength;
    private bool _inFragmentedMessage;

    /// <summary>The complete message after <see cref="FrameEvent.Message"/>.</summary>
    public ReadOnlyMemory<byte> Message { get; private set; }

    /// <summary>
    /// Reads the next frame from the start of <paramref name="buffer"/> and slices the buffer past it.
    /// A ping's payload is copied to <paramref name="control"/> (at least <see cref="MaxControlPayload"/> bytes),
    /// its length in <paramref name="value"/>; for <see cref="FrameEvent.Close"/> and <see cref="FrameEvent.Fault"/>,
    /// <paramref name="value"/> is a close code. After <see cref="FrameEvent.Fault"/> nothing more can be read.
    /// </summary>
    public FrameEvent Read(ref ReadOnlySequence<byte> buffer, Span<byte> control, out int value)
    {
        value = 0;
        if (!FrameHeader.TryRead(buffer, out var header))
        {
            return FrameEvent.NeedMore;
        }

        var fault = Check(header);
        if (fault != 0)
        {
            value = fault;
            return FrameEvent.Fault;
        }

        // Checked above: a control payload is at most 125 bytes, a data payload at most the receive limit.
        var payloadLength = (int)header.PayloadLength;
        if (buffer.Length - header.HeaderLength < payloadLength)
        {
            return FrameEvent.NeedMore;
        }

        var payload = buffer.Slice(header.HeaderLength, payloadLength);
        buffer = buffer.Slice(header.HeaderLength + payloadLength);
        if (header.IsControl)
        {
            Masking.CopyUnmasked(payload, control, header.Mask, 0);
            switch (header.Opcode)
            {
                case Opcode.Ping:
                    value = payloadLength;
                    return FrameEvent.Ping;
                case Opcode.Pong:
                    return FrameEvent.Pong;
                default:
                    value = ReadCloseCode(control[..payloadLength]);
                    return FrameEvent.Close;
            }
        }

        Append(payload, payloadLength, header.Mask);
        if (!header.Fin)
        {
            _inFragmentedMessage = true;
            return FrameEvent.Fragment;
        }

        _inFragmentedMessage = false;
        var message = _message.AsMemory(0, _messageLength);
        _messageLength = 0;
        if (!Utf8.IsValid(message.Span))
        {
            ReleaseMessage();
            value = SocketCloseCodes.InvalidPayload;
            return FrameEvent.Fault;
        }

        Message = message;
        return FrameEvent.Message;
    }

    /// <summary>
    /// Takes the buffer of <see cref="Message"/> (rented from the shared array pool; the caller returns it) so that
    /// the next message can be read while this one is still being handled.
    /// </summary>
    public byte[] DetachMessage()
    {
        var buffer = _message ?? throw new InvalidOperationException("There is no message to detach.");
        _message = null;
        Message = default;
        return buffer;
    }

    /// <summary>Gives the message buffer back: an idle connection keeps none.</summary>
    public void ReleaseMessage()
    {
        Message = default;
        if (_message is not null)
        {
            ArrayPool<byte>.Shared.Return(_message);
            _message = null;
        }
    }

    /// <inheritdoc />
    public void Dispose() => ReleaseMessage();

    /// <summary>Checks a client frame header; returns the close code that fails the connection, or 0.</summary>
    private int Check(in FrameHeader header)
    {
        if (header.Rsv != 0 || !header.Masked || header.PayloadLength < 0)
        {
            return SocketCloseCodes.ProtocolError;
        }

        switch (header.Opcode)
        {
            case Opcode.Binary:
                return SocketCloseCodes.UnsupportedData;
            case Opcode.Text:
                return _inFragmentedMessage ? SocketCloseCodes.ProtocolError : CheckSize(header);
            case Opcode.Continuation:
                return _inFragmentedMessage ? CheckSize(header) : SocketCloseCodes.ProtocolError;
            case Opcode.Close or Opcode.Ping or Opcode.Pong:
                return header.Fin && header.PayloadLength <= MaxControlPayload ? 0 : SocketCloseCodes.ProtocolError;
            default:
                return SocketCloseCodes.ProtocolError;
        }
    }

    // Written so that nothing can overflow: the message so far never exceeds the limit.
    private int CheckSize(in FrameHeader header) =>
        header.PayloadLength > receiveLimit - _messageLength ? SocketCloseCodes.MessageTooBig : 0;

    private void Append(in ReadOnlySequence<byte> payload, int length, uint mask)
    {
        var needed = _messageLength + length;
        if (_message is null || _message.Length < needed)
        {
            var grown = ArrayPool<byte>.Shared.Rent(Math.Max(needed, 256));
            if (_message is not null)
            {
                _message.AsSpan(0, _messageLength).CopyTo(grown);
                ArrayPool<byte>.Shared.Return(_message);
            }

            _message = grown;
        }

        Masking.CopyUnmasked(payload, _message.AsSpan(_messageLength), mask, 0);
        _messageLength = needed;
    }

    private static int ReadCloseCode(ReadOnlySpan<byte> payload)
    {
        if (payload.Length == 0)
        {
            return SocketCloseCodes.Normal;
        }

        if (payload.Length == 1 || !Utf8.IsValid(payload[2..]))
        {
            return SocketCloseCodes.ProtocolError;
        }

        // Echo the peer's code when it is one that may be sent on the wire (RFC 6455 7.4).
        var code = BinaryPrimitives.ReadUInt16BigEndian(payload);
        return code is (>= 1000 and <= 1003) or (>= 1007 and <= 1014) or (>= 3000 and <= 4999)
            ? code
            : SocketCloseCodes.ProtocolError;
    }
}
