using BenchmarkDotNet.Attributes;
using Ori.Sockets.Connections;

namespace Ori.Sockets.Benchmarks;

/// <summary>
/// One publish to a topic with N local subscribers: the push is serialized and encoded once (WebSocket
/// header included) and the same frame is queued for every subscriber; writers drain to Stream.Null.
/// </summary>
[MemoryDiagnoser]
public class PushPathBenchmarks
{
    private Harness _harness = null!;
    private readonly List<SocketConnection> _connections = [];

    [Params(1, 1000, 5000)]
    public int Subscribers { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _harness = new Harness();
        for (var i = 0; i < Subscribers; i++)
        {
            var connection = Harness.NewConnection("s" + i);
            _harness.Hub.Add(connection);
            _harness.Hub.Subscribe(connection.Id, "account:acme");
            _connections.Add(connection);
        }
    }

    [GlobalCleanup]
    public void Cleanup() => _harness.Dispose();

    [Benchmark(Description = "encode once + queue for every subscriber")]
    public int Publish()
    {
        var frame = SocketEmitterExtensions.CreatePush(new PresenceChanged("alice", "idle"));
        return _harness.Hub.DeliverToTopic("account:acme", frame);
    }

    [Benchmark(Description = "encode only")]
    public SocketFrame Encode() => SocketEmitterExtensions.CreatePush(new PresenceChanged("alice", "idle"));
}
