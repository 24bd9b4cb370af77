using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Ori.Sockets.Redis.Tests.Infrastructure;
using Ori.Sockets.Tests.Infrastructure;

namespace Ori.Sockets.Redis.Tests;

/// <summary>
/// Presence across instances on a private Redis: one instance is the load server in a child process, killed with
/// SIGKILL (no clean shutdown), the other the test's own.
/// </summary>
public sealed class PresenceTests
{
    private static readonly TimeSpan s_heartbeat = TimeSpan.FromMilliseconds(500);

    [Fact]
    public async Task Presence_spans_instances_and_a_killed_instance_leaves_it_within_two_heartbeats()
    {
        await using var redis = await RedisServer.StartAsync();
        var port = TestEnvironment.FreePort();
        using var child = StartLoadServer(redis.Endpoint, port);
        try
        {
            await WaitReadyAsync(port);
            await using var b = await Instance.StartAsync(redis.Endpoint, "load", o => o.PresenceHeartbeat = s_heartbeat, s => s.PresenceEvents = topic => topic == "room");
            var presence = b.App.Services.GetRequiredService<ISocketPresence>();
            var (onB, idB) = await b.ConnectAsync("bob");
            await using (onB)
            {
                await onB.RequestAsync("room.join", new { room = "room" }, "j");
                var (onChild, _) = await TestClient.ConnectReadyAsync(new Uri($"ws://127.0.0.1:{port}/ws?user=bob"));
                await using (onChild)
                {
                    await onChild.RequestAsync("room.join", new { room = "room" }, "j");

                    // Both instances' members, from either side.
                    await Eventually.TrueAsync(async () => (await presence.GetPresenceAsync("room")).Count == 2);
                    var seen = await presence.GetPresenceAsync("room");
                    var other = seen.Members.Single(m => m.SocketId != idB);
                    Assert.Equal("bob", seen.Members.Single(m => m.SocketId == idB).UserId);
                    Assert.Equal("bob", other.UserId);
                    // The reply, past any presence push that comes first (this room has presence events).
                    var reply = await onB.RequestAsync("room.presence", new { room = "room" }, "p");
                    while (!reply.TryGetProperty("correlationId", out _))
                    {
                        reply = await onB.ReceiveJsonAsync();
                    }

                    Assert.Equal(2, reply.GetProperty("data").GetProperty("count").GetInt32());

                    // Bob's sockets: one on each instance.
                    await Eventually.TrueAsync(async () => (await presence.GetUserSocketsAsync("bob")).Count == 2);

                    // Connections per instance and in all: one each, two together.
                    await Eventually.TrueAsync(async () => (await presence.GetConnectionCountsAsync()).Total == 2);
                    Assert.Equal([1, 1], (await presence.GetConnectionCountsAsync()).PerInstance.Values);

                    // The other instance dies without a word.
                    child.Kill(entireProcessTree: true);
                    var killed = Stopwatch.StartNew();
                    await Eventually.TrueAsync(async () => (await presence.GetPresenceAsync("room")).Count == 1, TimeSpan.FromSeconds(10));
                    var gone = killed.Elapsed;
                    TestContext.Current.TestOutputHelper?.WriteLine($"the killed instance left presence {gone.TotalMilliseconds:F0} ms after SIGKILL (heartbeat {s_heartbeat.TotalMilliseconds} ms)");
                    Assert.True(gone < (s_heartbeat * 2) + TimeSpan.FromSeconds(1), $"{gone.TotalMilliseconds:F0} ms");

                    // Its member is reported as left to the room (the survivor's heartbeat finds the dead instance).
                    while (true)
                    {
                        var message = await onB.ReceiveJsonAsync();
                        if (message.TryGetProperty("name", out var name) && name.GetString() == "ori.presence"
                            && message.GetProperty("data").GetProperty("left").EnumerateArray().Any(m => m.GetProperty("socketId").GetString() == other.SocketId))
                        {
                            break;
                        }
                    }

                    Assert.Contains(b.Logs.Entries, e => e.EventId == 113);
                    Assert.Equal(1, (await presence.GetConnectionCountsAsync()).Total);
                    Assert.Equal([idB], (await presence.GetUserSocketsAsync("bob")).Select(s => s.SocketId));
                }
            }
        }
        finally
        {
            if (!child.HasExited)
            {
                child.Kill(entireProcessTree: true);
            }
        }
    }

    private static async Task WaitReadyAsync(int port)
    {
        using var http = new HttpClient();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            try
            {
                await http.GetStringAsync(new Uri($"http://127.0.0.1:{port}/ready"));
                return;
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }
        }
    }

    private static Process StartLoadServer(string redis, int port)
    {
        var dll = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "benchmarks", "Ori.Sockets.LoadServer", "bin", "Release", "net10.0", "Ori.Sockets.LoadServer.dll"));
        Assert.True(File.Exists(dll), $"Build the solution in Release first: {dll} is missing.");
        var start = new ProcessStartInfo("dotnet", [dll, "ori", port.ToString(CultureInfo.InvariantCulture)])
        {
            RedirectStandardOutput = true,
            RedirectStandardInput = true,
        };
        start.Environment["ORI_LOAD_REDIS"] = redis;
        start.Environment["ORI_LOAD_PRESENCE_HEARTBEAT_MS"] = ((int)s_heartbeat.TotalMilliseconds).ToString(CultureInfo.InvariantCulture);
        var process = Process.Start(start)!;
        process.StandardInput.Close();
        process.OutputDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        return process;
    }
}
