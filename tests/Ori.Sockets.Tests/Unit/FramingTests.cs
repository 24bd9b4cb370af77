using System.Buffers;
using System.Text;
using Ori.Sockets.Connections;
using Ori.Sockets.Protocol;

namespace Ori.Sockets.Tests.Unit;

public sealed class FramingTests
{
    [Theory]
    [InlineData(0, 2)]
    [InlineData(125, 2)]
    [InlineData(126, 4)]
    [InlineData(65535, 4)]
    [InlineData(65536, 10)]
    public void Server_frames_use_the_shortest_length_encoding(int payloadLength, int headerLength)
    {
        var frame = SocketFrame.Text(new string('a', payloadLength));
        Assert.Equal(payloadLength + headerLength, frame.Length);
        Assert.Equal(0x81, frame.Buffer[0]);
        Assert.Equal(0, frame.Buffer[1] & 0x80); // never masked
        Assert.Equal(payloadLength, frame.Payload.Length);
    }

    [Fact]
    public void Text_frame_refuses_invalid_utf8()
    {
        Assert.ThrowsAny<ArgumentException>(() => SocketFrame.Text([0xC3, 0x28]));
    }

    [Fact]
    public void Close_frame_carries_the_code_and_a_reason_cut_to_123_bytes()
    {
        var frame = SocketFrame.Close(4008, new string('r', 300));
        Assert.Equal(0x88, frame.Buffer[0]);
        Assert.Equal(125, frame.Buffer[1]);
        Assert.Equal(4008, (frame.Buffer[2] << 8) | frame.Buffer[3]);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(64)]
    [InlineData(1000)]
    public void Unmasking_across_segments_matches_the_byte_by_byte_definition(int length)
    {
        var mask = new byte[] { 0x12, 0x34, 0x56, 0x78 };
        var plain = Enumerable.Range(0, length).Select(i => (byte)(i * 7)).ToArray();
        var masked = plain.Select((b, i) => (byte)(b ^ mask[i % 4])).ToArray();

        // Split into uneven segments so the mask must stay aligned across them.
        var sequence = Segments(masked, 3, 5, 11);
        var destination = new byte[length];
        Masking.CopyUnmasked(sequence, destination, BitConverter.ToUInt32(mask), 0);
        Assert.Equal(plain, destination);
    }

    [Fact]
    public void Header_parsing_reads_lengths_mask_and_waits_for_a_whole_header()
    {
        byte[] bytes = [0x81, 0xFE, 0x01, 0x00, 1, 2, 3, 4];
        Assert.True(FrameHeader.TryRead(new ReadOnlySequence<byte>(bytes), out var header));
        Assert.True(header.Fin);
        Assert.Equal(Opcode.Text, header.Opcode);
        Assert.True(header.Masked);
        Assert.Equal(256, header.PayloadLength);
        Assert.Equal(8, header.HeaderLength);
        Assert.False(FrameHeader.TryRead(new ReadOnlySequence<byte>(bytes[..7]), out _));
    }

    [Fact]
    public void Socket_ids_are_version_4_variant_1_and_distinct()
    {
        var ids = Enumerable.Range(0, 1000).Select(_ => SocketIds.NewId()).ToList();
        Assert.Equal(1000, ids.Distinct().Count());
        Assert.All(ids, id =>
        {
            Assert.Equal('4', id[14]);
            Assert.Contains(id[19], "89ab");
        });
    }

    private static ReadOnlySequence<byte> Segments(byte[] data, params int[] sizes)
    {
        Segment? first = null;
        Segment? last = null;
        var offset = 0;
        var i = 0;
        while (offset < data.Length)
        {
            var size = Math.Min(sizes[i++ % sizes.Length], data.Length - offset);
            var segment = new Segment(data.AsMemory(offset, size), last);
            first ??= segment;
            last = segment;
            offset += size;
        }

        return new ReadOnlySequence<byte>(first!, 0, last!, last!.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, Segment? previous)
        {
            Memory = memory;
            if (previous is not null)
            {
                RunningIndex = previous.RunningIndex + previous.Memory.Length;
                previous.Next = this;
            }
        }
    }
}
