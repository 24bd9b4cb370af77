using System.Buffers;
using System.Buffers.Binary;

namespace Ori.Sockets.Protocol;

/// <summary>The parsed header of one client frame (RFC 6455 5.2).</summary>
internal readonly struct FrameHeader
{
    public FrameHeader(bool fin, byte rsv, Opcode opcode, bool masked, long payloadLength, uint mask, int headerLength)
    {
        Fin = fin;
        Rsv = rsv;
        Opcode = opcode;
        Masked = masked;
        PayloadLength = payloadLength;
        Mask = mask;
        HeaderLength = headerLength;
    }

    public bool Fin { get; }

    public byte Rsv { get; }

    public Opcode Opcode { get; }

    public bool Masked { get; }

    /// <summary>The payload length; -1 when the 64-bit length had its most significant bit set (a protocol error).</summary>
    public long PayloadLength { get; }

    /// <summary>The masking key in network byte order, as read.</summary>
    public uint Mask { get; }

    public int HeaderLength { get; }

    public bool IsControl => ((byte)Opcode & 0x8) != 0;

    /// <summary>Reads a header from the start of <paramref name="buffer"/>, if all of it has arrived.</summary>
    public static bool TryRead(in ReadOnlySequence<byte> buffer, out FrameHeader header)
    {
        Span<byte> bytes = stackalloc byte[14];
        var available = (int)Math.Min(buffer.Length, 14);
        if (available < 2)
        {
            header = default;
            return false;
        }

        buffer.Slice(0, available).CopyTo(bytes);
        var fin = (bytes[0] & 0x80) != 0;
        var rsv = (byte)((bytes[0] >> 4) & 0x7);
        var opcode = (Opcode)(bytes[0] & 0x0F);
        var masked = (bytes[1] & 0x80) != 0;
        long length = bytes[1] & 0x7F;
        var headerLength = 2;
        if (length == 126)
        {
            headerLength = 4;
        }
        else if (length == 127)
        {
            headerLength = 10;
        }

        if (masked)
        {
            headerLength += 4;
        }

        if (available < headerLength)
        {
            header = default;
            return false;
        }

        if (length == 126)
        {
            length = BinaryPrimitives.ReadUInt16BigEndian(bytes[2..]);
        }
        else if (length == 127)
        {
            var raw = BinaryPrimitives.ReadUInt64BigEndian(bytes[2..]);
            // The most significant bit must be 0 (RFC 6455 5.2): such a length is -1, a protocol error.
            length = raw > long.MaxValue ? -1 : (long)raw;
        }

        var mask = masked ? BinaryPrimitives.ReadUInt32LittleEndian(bytes[(headerLength - 4)..]) : 0u;
        header = new FrameHeader(fin, rsv, opcode, masked, length, mask, headerLength);
        return true;
    }
}
