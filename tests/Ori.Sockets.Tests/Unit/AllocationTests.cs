using Ori.Sockets.Protocol;
using Ori.Sockets.Tests.Infrastructure;

namespace Ori.Sockets.Tests.Unit;

/// <summary>The hot paths allocate what they must and nothing more. Measured per thread, after a warm-up.</summary>
public sealed class AllocationTests
{
    [Fact]
    public void Parsing_an_envelope_allocates_nothing()
    {
        var message = """{"type":"presence.update","data":{"status":"idle"},"correlationId":"c-42"}"""u8.ToArray();
        var type = new byte[128];
        for (var i = 0; i < 100; i++)
        {
            EnvelopeReader.TryRead(message, 32, type, out _, out _);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            EnvelopeReader.TryRead(message, 32, type, out _, out _);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Building_a_reply_allocates_only_the_frame()
    {
        var type = "echo"u8.ToArray();
        var correlation = "\"c-1\""u8.ToArray();
        var reply = new EchoReply("hello");
        var frame = EnvelopeWriter.Reply(type, correlation, reply, static (w, r) => EchoReply.Serializer.Write(w, r));
        for (var i = 0; i < 100; i++)
        {
            EnvelopeWriter.Reply(type, correlation, reply, static (w, r) => EchoReply.Serializer.Write(w, r));
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            EnvelopeWriter.Reply(type, correlation, reply, static (w, r) => EchoReply.Serializer.Write(w, r));
        }

        var perReply = (GC.GetAllocatedBytesForCurrentThread() - before) / 1000;

        // The frame object and its byte array (with their headers), nothing else.
        Assert.InRange(perReply, frame.Length, frame.Length + 80);
    }
}
