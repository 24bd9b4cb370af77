using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using Ori.Sockets.Protocol;
using Ori.Sockets.Tests.Infrastructure;

namespace Ori.Sockets.Tests.Unit;

/// <summary>The frame reader on its own: bytes in, events out, no socket.</summary>
public sealed class FrameReaderTests
{
    [Fact]
    public void A_masked_text_frame_is_one_message()
    {
        using var reader = new FrameReader(1024);
        var buffer = Sequence(Frame(0x1, fin: true, "hello"u8));
        Assert.Equal(FrameEvent.Message, Read(reader, ref buffer, out _));
        Assert.Equal("hello", Encoding.UTF8.GetString(reader.Message.Span));
        Assert.Equal(0, buffer.Length);
        Assert.Equal(FrameEvent.NeedMore, Read(reader, ref buffer, out _));
    }

    [Fact]
    public void Fragments_are_reassembled_around_a_ping_in_between()
    {
        using var reader = new FrameReader(1024);
        var buffer = Sequence(Frame(0x1, fin: false, "hel"u8), Frame(0x9, fin: true, "p!"u8), Frame(0x0, fin: false, "l"u8), Frame(0x0, fin: true, "o"u8));
        var control = new byte[FrameReader.MaxControlPayload];
        Assert.Equal(FrameEvent.Fragment, reader.Read(ref buffer, control, out _));
        Assert.Equal(FrameEvent.Ping, reader.Read(ref buffer, control, out var pingLength));
        Assert.Equal("p!", Encoding.UTF8.GetString(control, 0, pingLength));
        Assert.Equal(FrameEvent.Fragment, reader.Read(ref buffer, control, out _));
        Assert.Equal(FrameEvent.Message, reader.Read(ref buffer, control, out _));
        Assert.Equal("hello", Encoding.UTF8.GetString(reader.Message.Span));
    }

    [Fact]
    public void A_frame_split_across_segments_and_reads_waits_for_all_of_it()
    {
        var bytes = Frame(0x1, fin: true, Encoding.UTF8.GetBytes(new string('x', 300)));
        using var reader = new FrameReader(1024);
        for (var cut = 1; cut < bytes.Length; cut += 37)
        {
            var partial = Sequence(bytes[..cut]);
            Assert.Equal(FrameEvent.NeedMore, Read(reader, ref partial, out _));
            Assert.Equal(cut, partial.Length);
        }

        // Three segments with the header itself cut in two.
        var whole = Sequence(bytes[..1], bytes[1..150], bytes[150..]);
        Assert.Equal(FrameEvent.Message, Read(reader, ref whole, out _));
        Assert.Equal(300, reader.Message.Length);
    }

    [Fact]
    public void Invalid_utf8_split_across_fragments_fails_with_1007()
    {
        using var reader = new FrameReader(1024);
        var valid = Sequence(Frame(0x1, fin: false, [0xC3]), Frame(0x0, fin: true, [0xA9]));
        Assert.Equal(FrameEvent.Fragment, Read(reader, ref valid, out _));
        Assert.Equal(FrameEvent.Message, Read(reader, ref valid, out _));
        Assert.Equal("é", Encoding.UTF8.GetString(reader.Message.Span));

        var invalid = Sequence(Frame(0x1, fin: false, [0xC3]), Frame(0x0, fin: true, [0x28]));
        Assert.Equal(FrameEvent.Fragment, Read(reader, ref invalid, out _));
        Assert.Equal(FrameEvent.Fault, Read(reader, ref invalid, out var code));
        Assert.Equal(1007, code);
    }

    [Theory]
    [InlineData("unmasked", 1002)]
    [InlineData("binary", 1003)]
    [InlineData("reserved bits", 1002)]
    [InlineData("reserved opcode", 1002)]
    [InlineData("continuation first", 1002)]
    [InlineData("text inside a fragmented message", 1002)]
    [InlineData("ping of 126 bytes", 1002)]
    [InlineData("fragmented ping", 1002)]
    [InlineData("one frame past the limit", 1009)]
    [InlineData("fragments past the limit", 1009)]
    [InlineData("64-bit length with the top bit set", 1002)]
    [InlineData("64-bit length that overflows when added", 1009)]
    public void Protocol_faults_close_with_their_code(string fault, int expected)
    {
        using var reader = new FrameReader(100);
        byte[][] frames = fault switch
        {
            "unmasked" => [Frame(0x1, fin: true, "a"u8, masked: false)],
            "binary" => [Frame(0x2, fin: true, "a"u8)],
            "reserved bits" => [SetFirstByte(Frame(0x1, fin: true, "a"u8), 0x80 | 0x40 | 0x1)],
            "reserved opcode" => [Frame(0x3, fin: true, "a"u8)],
            "continuation first" => [Frame(0x0, fin: true, "a"u8)],
            "text inside a fragmented message" => [Frame(0x1, fin: false, "a"u8), Frame(0x1, fin: true, "b"u8)],
            "ping of 126 bytes" => [Frame(0x9, fin: true, new byte[126])],
            "fragmented ping" => [Frame(0x9, fin: false, "a"u8)],
            "one frame past the limit" => [Frame(0x1, fin: true, new byte[101])],
            "fragments past the limit" => [Frame(0x1, fin: false, new byte[60]), Frame(0x0, fin: true, new byte[41])],
            "64-bit length with the top bit set" => [LongHeader(0x1, 0x8000_0000_0000_0005)],
            _ => [Frame(0x1, fin: false, new byte[60]), LongHeader(0x0, long.MaxValue - 10)],
        };
        var buffer = Sequence(frames);
        FrameEvent frame;
        int code;
        do
        {
            frame = Read(reader, ref buffer, out code);
        }
        while (frame == FrameEvent.Fragment);

        Assert.Equal(FrameEvent.Fault, frame);
        Assert.Equal(expected, code);
    }

    [Fact]
    public void Exactly_the_limit_is_accepted_over_fragments()
    {
        using var reader = new FrameReader(100);
        var buffer = Sequence(Frame(0x1, fin: false, new byte[60]), Frame(0x0, fin: true, new byte[40]));
        Assert.Equal(FrameEvent.Fragment, Read(reader, ref buffer, out _));
        Assert.Equal(FrameEvent.Message, Read(reader, ref buffer, out _));
        Assert.Equal(100, reader.Message.Length);
    }

    [Theory]
    [InlineData(new byte[0], 1000)]
    [InlineData(new byte[] { 0x03, 0xE8 }, 1000)]
    [InlineData(new byte[] { 0x0F, 0xA0, (byte)'b', (byte)'y', (byte)'e' }, 4000)]
    [InlineData(new byte[] { 0x03, 0xED }, 1002)] // 1005 may not be sent on the wire
    [InlineData(new byte[] { 0x03 }, 1002)]
    [InlineData(new byte[] { 0x03, 0xE8, 0xFF }, 1002)] // reason not UTF-8
    public void A_close_frame_gives_the_code_to_answer_with(byte[] payload, int expected)
    {
        using var reader = new FrameReader(100);
        var buffer = Sequence(Frame(0x8, fin: true, payload));
        Assert.Equal(FrameEvent.Close, Read(reader, ref buffer, out var code));
        Assert.Equal(expected, code);
    }

    [Fact]
    public void Releasing_the_message_keeps_no_buffer_and_the_next_message_starts_clean()
    {
        using var reader = new FrameReader(1024);
        var buffer = Sequence(Frame(0x1, fin: true, "first"u8), Frame(0x1, fin: true, "2nd"u8));
        Assert.Equal(FrameEvent.Message, Read(reader, ref buffer, out _));
        reader.ReleaseMessage();
        Assert.True(reader.Message.IsEmpty);
        Assert.Equal(FrameEvent.Message, Read(reader, ref buffer, out _));
        Assert.Equal("2nd", Encoding.UTF8.GetString(reader.Message.Span));
    }

    private static FrameEvent Read(FrameReader reader, ref ReadOnlySequence<byte> buffer, out int value) =>
        reader.Read(ref buffer, new byte[FrameReader.MaxControlPayload], out value);

    private static byte[] Frame(byte opcode, bool fin, ReadOnlySpan<byte> payload, bool masked = true) => RawSocket.Frame(opcode, fin, payload, masked);

    private static byte[] LongHeader(byte opcode, ulong length) => RawSocket.LongHeader(opcode, fin: true, length);

    private static byte[] LongHeader(byte opcode, long length) => LongHeader(opcode, (ulong)length);

    private static byte[] SetFirstByte(byte[] frame, int value)
    {
        frame[0] = (byte)value;
        return frame;
    }

    /// <summary>The arrays as one sequence, one segment each.</summary>
    internal static ReadOnlySequence<byte> Sequence(params byte[][] segments)
    {
        if (segments.Length == 1)
        {
            return new ReadOnlySequence<byte>(segments[0]);
        }

        var first = new Segment(segments[0], 0);
        var last = first;
        foreach (var bytes in segments.Skip(1))
        {
            last = last.Append(bytes);
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
