using System.Buffers.Text;
using System.Text;

namespace Ori.Sockets.LoadTool;

/// <summary>What differs between the two servers, as a client speaks to them.</summary>
internal interface IProtocol
{
    string Name { get; }

    string Path { get; }

    /// <summary>After the upgrade: until the connection is usable (ori.ready / SignalR handshake).</summary>
    Task OpenAsync(RawWebSocket socket, CancellationToken cancellationToken);

    string JoinMessage { get; }

    string EchoMessage(int id);

    /// <summary>Counts the ticks in one frame and, when asked, reads their publish time.</summary>
    int CountTicks(ReadOnlySpan<byte> frame, List<long>? times);

    /// <summary>Whether the frame is the reply (or completion) of request <paramref name="id"/>.</summary>
    bool IsReply(ReadOnlySpan<byte> frame, string id);
}

/// <summary>The Ori.Sockets envelope protocol: the Ori.Sockets load server's, and the Bun server's (named "Bun").</summary>
internal sealed class OriProtocol(string name = "Ori.Sockets") : IProtocol
{
    public string Name => name;

    public string Path => "/ws";

    public string JoinMessage => """{"type":"room.join","data":{"room":"bench"},"correlationId":"j"}""";

    public async Task OpenAsync(RawWebSocket socket, CancellationToken cancellationToken) =>
        await socket.ReceiveAsync(frame => !frame.Span.StartsWith("{\"name\":\"ori.ready\""u8), cancellationToken);

    public string EchoMessage(int id) => $$"""{"type":"echo","data":{"text":"hello"},"correlationId":"{{id}}"}""";

    public int CountTicks(ReadOnlySpan<byte> frame, List<long>? times)
    {
        if (!frame.StartsWith("{\"name\":\"tick\""u8))
        {
            return 0;
        }

        if (times is not null)
        {
            var at = frame.IndexOf("\"t\":"u8);
            if (at >= 0 && Utf8Parser.TryParse(frame[(at + 4)..], out long t, out _))
            {
                times.Add(t);
            }
        }

        return 1;
    }

    public bool IsReply(ReadOnlySpan<byte> frame, string id) =>
        frame.IndexOf(Encoding.UTF8.GetBytes($"\"correlationId\":\"{id}\"")) >= 0;
}

internal sealed class SignalRProtocol : IProtocol
{
    private const byte Separator = 0x1e;

    public string Name => "SignalR";

    public string Path => "/hub";

    public string JoinMessage => "{\"type\":1,\"invocationId\":\"j\",\"target\":\"JoinGroup\",\"arguments\":[\"bench\"]}\u001e";

    public async Task OpenAsync(RawWebSocket socket, CancellationToken cancellationToken)
    {
        await socket.SendTextAsync("{\"protocol\":\"json\",\"version\":1}\u001e", cancellationToken);
        await socket.ReceiveAsync(frame => frame.Span.IndexOf("{}"u8) < 0, cancellationToken);
    }

    public string EchoMessage(int id) => $"{{\"type\":1,\"invocationId\":\"{id}\",\"target\":\"Echo\",\"arguments\":[\"hello\"]}}\u001e";

    public int CountTicks(ReadOnlySpan<byte> frame, List<long>? times)
    {
        var count = 0;
        while (!frame.IsEmpty)
        {
            var end = frame.IndexOf(Separator);
            var record = end < 0 ? frame : frame[..end];
            if (record.IndexOf("\"target\":\"tick\""u8) >= 0)
            {
                count++;
                if (times is not null)
                {
                    var at = record.IndexOf("\"arguments\":["u8);
                    if (at >= 0 && Utf8Parser.TryParse(record[(at + 13)..], out long t, out _))
                    {
                        times.Add(t);
                    }
                }
            }

            frame = end < 0 ? default : frame[(end + 1)..];
        }

        return count;
    }

    public bool IsReply(ReadOnlySpan<byte> frame, string id) =>
        frame.IndexOf(Encoding.UTF8.GetBytes($"\"invocationId\":\"{id}\"")) >= 0;
}
