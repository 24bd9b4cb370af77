using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Ori.Sockets.Tests.Infrastructure;

namespace Ori.Sockets.Tests.EndToEnd;

/// <summary>
/// Who is in a room (<c>room.presence</c>, <see cref="ISocketPresence"/>) and the batched <c>ori.presence</c> pushes, on one
/// instance. Run alone (5,000 real connections would slow the timing of tests running beside them).
/// </summary>
[Collection(nameof(AdversarialTests))]
public sealed class PresenceTests
{
    [Fact]
    public async Task A_member_sees_who_is_in_the_room_and_a_non_member_is_refused()
    {
        await using var server = await TestServer.StartAsync(sockets: s => s.AddRoomRule((_, room) => room != "secret"), connectionGuards: [typeof(UserFromQueryGuard)]);
        await using var alice = await server.ConnectAsync("user=alice");
        await using var bob = await server.ConnectAsync("user=bob");
        await using var anonymous = await server.ConnectAsync();
        var aliceId = await alice.ReadyAsync();
        var bobId = await bob.ReadyAsync();
        var anonymousId = await anonymous.ReadyAsync();
        foreach (var client in new[] { alice, bob, anonymous })
        {
            await client.RequestAsync("room.join", new { room = "lobby" }, "j");
        }

        var reply = await alice.RequestAsync("room.presence", new { room = "lobby" }, "p");
        var data = reply.GetProperty("data");
        Assert.Equal("lobby", data.GetProperty("room").GetString());
        Assert.Equal(3, data.GetProperty("count").GetInt32());
        var members = data.GetProperty("members").EnumerateArray().Select(m => (m.GetProperty("socketId").GetString(), m.GetProperty("userId").ValueKind == JsonValueKind.Null ? null : m.GetProperty("userId").GetString())).ToList();
        Assert.Equal([(aliceId, "alice"), (bobId, "bob"), (anonymousId, (string?)null)], members);

        // The same from application code, with when each joined.
        var presence = await server.Services.GetRequiredService<ISocketPresence>().GetPresenceAsync("lobby", TestContext.Current.CancellationToken);
        Assert.Equal(3, presence.Count);
        Assert.True(presence.Members.Zip(presence.Members.Skip(1)).All(p => p.First.Since <= p.Second.Since));

        // Introspection: the socket's rooms, the user's sockets, the connections.
        var hub = server.Services.GetRequiredService<SocketHub>();
        Assert.Equal(["lobby"], hub.GetTopics(aliceId));
        Assert.Equal([aliceId], hub.GetUserSockets("alice"));
        var counts = await server.Services.GetRequiredService<ISocketPresence>().GetConnectionCountsAsync(TestContext.Current.CancellationToken);
        Assert.Equal(3, counts.Total);
        Assert.Equal(3, counts.PerInstance["local"]);

        // Not a member: forbidden (whether or not the room exists; room rules decide membership).
        await bob.RequestAsync("room.leave", new { room = "lobby" }, "l");
        var refused = await bob.RequestAsync("room.presence", new { room = "lobby" }, "p2");
        Assert.Equal("forbidden", refused.GetProperty("error").GetString());
        var ruled = await bob.RequestAsync("room.presence", new { room = "secret" }, "p3");
        Assert.Equal("forbidden", ruled.GetProperty("error").GetString());
        var invalid = await bob.RequestAsync("room.presence", new { room = "a b" }, "p4");
        Assert.Equal("validation_failed", invalid.GetProperty("error").GetString());
        Assert.Equal(2, (await server.Services.GetRequiredService<ISocketPresence>().GetPresenceAsync("lobby", TestContext.Current.CancellationToken)).Count);
    }

    [Fact]
    public async Task Many_joins_and_leaves_at_once_make_a_few_batched_presence_pushes_to_the_members()
    {
        const int crowd = 5000;
        await using var server = await TestServer.StartAsync(
            sockets: s => s.AddRoomRule((_, _) => true),
            options: o =>
            {
                o.PresenceEvents = topic => topic.StartsWith("live", StringComparison.Ordinal);

                // The observer only reads while 5,000 sockets come and go, which takes tens of seconds on a loaded machine.
                o.IdleTimeout = TimeSpan.FromMinutes(5);
            },
            connectionGuards: [typeof(UserFromQueryGuard)]);
        await using var observer = await server.ConnectAsync("user=observer");
        await observer.ReadyAsync();
        await observer.RequestAsync("room.join", new { room = "live" }, "j");
        await observer.RequestAsync("room.join", new { room = "quiet" }, "q");

        // The observer's own join comes first, alone.
        var own = await NextPresenceAsync(observer);
        Assert.Equal("observer", own.GetProperty("joined")[0].GetProperty("userId").GetString());

        // 200 connecting at a time: 5,000 handshakes at once on two busy cores can outlast a client's connect time-out.
        using var connecting = new SemaphoreSlim(200);
        var joining = System.Diagnostics.Stopwatch.StartNew();
        var clients = await Task.WhenAll(Enumerable.Range(0, crowd).Select(async i =>
        {
            await connecting.WaitAsync(TestContext.Current.CancellationToken);
            try
            {
                var client = await server.ConnectAsync($"user=u{i}");
                await client.ReadyAsync();
                await client.RequestAsync("room.join", new { room = "live" }, "j");
                return client;
            }
            finally
            {
                connecting.Release();
            }
        }));

        var (joined, joinPushes) = await CollectAsync(observer, "joined", crowd);
        Assert.Equal(crowd, joined.Count);
        // Batched: the joins arrive over a few seconds (5,000 real connections, longer on a loaded machine), one push per
        // 200 ms window at most: never one push per member. The pushes were all made while the test watched.
        var joinTime = joining.Elapsed;
        AssertBatched(joinPushes, crowd, joinTime, "joins");

        var leaving = System.Diagnostics.Stopwatch.StartNew();
        foreach (var client in clients)
        {
            await client.DisposeAsync();
        }

        var (left, leavePushes) = await CollectAsync(observer, "left", crowd);
        Assert.Equal(joined, left);
        var leaveTime = leaving.Elapsed;
        AssertBatched(leavePushes, crowd, leaveTime, "leaves");
        TestContext.Current.TestOutputHelper?.WriteLine($"{crowd} joins: {joinPushes} pushes in {joinTime.TotalSeconds:F1} s; {crowd} leaves: {leavePushes} pushes in {leaveTime.TotalSeconds:F1} s");

        // A topic without presence events gets none.
        await using var late = await server.ConnectAsync("user=late");
        await late.ReadyAsync();
        await late.RequestAsync("room.join", new { room = "quiet" }, "q");
        await observer.AssertSilentAsync(TimeSpan.FromMilliseconds(600));
    }

    private static void AssertBatched(int pushes, int members, TimeSpan during, string what)
    {
        var windows = (int)(during / new OriSocketsOptions().PresenceEventsWindow) + 1;
        Assert.True(pushes <= windows && pushes <= members / 10, $"{members} {what} made {pushes} pushes in {during.TotalSeconds:F1} s ({windows} windows)");
    }

    private static async Task<JsonElement> NextPresenceAsync(TestClient client)
    {
        while (true)
        {
            var message = await client.ReceiveJsonAsync();
            if (message.TryGetProperty("name", out var name) && name.GetString() == "ori.presence")
            {
                var data = message.GetProperty("data");
                Assert.Equal("live", data.GetProperty("topic").GetString());
                return data;
            }
        }
    }

    private static async Task<(HashSet<string> Members, int Pushes)> CollectAsync(TestClient observer, string list, int expected)
    {
        var members = new HashSet<string>(StringComparer.Ordinal);
        var pushes = 0;
        while (members.Count < expected)
        {
            var data = await NextPresenceAsync(observer);
            pushes++;
            foreach (var member in data.GetProperty(list).EnumerateArray())
            {
                Assert.True(members.Add(member.GetProperty("socketId").GetString()!), "a member was listed twice");
            }
        }

        return (members, pushes);
    }
}
