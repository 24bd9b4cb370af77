using System.Diagnostics;
using Ori.Sockets.Redis.Tests.Infrastructure;
using Ori.Sockets.Tests.Infrastructure;

namespace Dashboard.Tests;

/// <summary>
/// A Dashboard instance in a child process, killed with SIGKILL while a user is connected to it: the other instance tells
/// the account the user went offline and stops listing them, with no clean shutdown of the dead one.
/// </summary>
public sealed class InstanceCrashTests
{
    private static readonly string[] s_fastHeartbeat = ["--Ori:Sockets:Redis:PresenceHeartbeat", "00:00:00.5"];

    [Fact]
    public async Task A_user_whose_instance_is_killed_goes_offline_for_the_others_and_leaves_the_presence_list()
    {
        var prefix = "crash" + Guid.NewGuid().ToString("N")[..10];
        await using var redis = await RedisServer.StartAsync();
        await using var survivor = await DashboardServer.StartAsync(redis: redis.Endpoint, prefix: prefix, more: s_fastHeartbeat);
        var port = TestEnvironment.FreePort();
        using var child = DashboardProcess.Start(redis.Endpoint, prefix, port, s_fastHeartbeat);
        try
        {
            await DashboardProcess.WaitReadyAsync(port);
            await using var alice = await survivor.ConnectAsync("alice-token");
            var bob = await TestClient.ConnectAsync(new Uri($"ws://127.0.0.1:{port}/ws?token=bob-token"));
            await using (bob)
            {
                await bob.ReadyAsync();
                await alice.NextPushAsync("presence.changed", d => d.GetProperty("userId").GetString() == "bob" && d.GetProperty("status").GetString() == "active");
                await Eventually.TrueAsync(async () => (await survivor.PresenceAsync("alice-token")).Users.Any(u => u.UserId == "bob"));

                child.Kill(entireProcessTree: true);
                var killed = Stopwatch.StartNew();
                await alice.NextPushAsync("presence.changed", d => d.GetProperty("userId").GetString() == "bob" && d.GetProperty("status").GetString() == "offline");
                TestContext.Current.TestOutputHelper?.WriteLine($"bob went offline for alice {killed.Elapsed.TotalMilliseconds:F0} ms after SIGKILL of his instance (heartbeat 500 ms)");
                Assert.Equal([("alice", "active", 1)], (await survivor.PresenceAsync("alice-token")).Users);
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
}
