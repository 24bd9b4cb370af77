using System.Text.Json;
using Ori.Sockets.Redis.Tests.Infrastructure;
using Ori.Sockets.Tests.Infrastructure;

namespace Ori.Sockets.Redis.Tests;

/// <summary>
/// What a publisher is told is what happened, under Redis faults (a private redis-server per test): "accepted" means
/// delivered to local sockets and handed to Redis, so it reaches the other instance; "failed" with
/// <see cref="OriSocketsRedisException.MayHaveReachedOtherInstances"/> false means it never reaches another instance,
/// not even after Redis recovers.
/// </summary>
public sealed class PromiseTests
{
    private readonly string _prefix = "p" + Guid.NewGuid().ToString("N")[..10];

    [Fact]
    public async Task Publishes_that_fail_while_redis_is_stalled_are_never_delivered_when_it_resumes()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var a = await Instance.StartAsync(redis.Endpoint, _prefix, o => o.OperationTimeout = TimeSpan.FromMilliseconds(500));
        await using var b = await Instance.StartAsync(redis.Endpoint, _prefix, o => o.OperationTimeout = TimeSpan.FromMilliseconds(500));
        var (onB, _) = await b.JoinAsync("stall");
        await using (onB)
        {
            await a.Emitter.PublishAsync("stall", Notes.Push("before"));
            Assert.Equal("before", await Notes.TextAsync(onB));

            // Redis stops running commands for 5 s (its own clients' commands wait, then run when it resumes): longer than
            // the five publishes take to fail (0.6 s each), so that none is answered by a Redis that has resumed.
            await RespClient.CommandAsync(redis.Endpoint, "CLIENT", "PAUSE", "5000", "ALL");
            var failures = new List<OriSocketsRedisException>();
            for (var i = 0; i < 5; i++)
            {
                failures.Add(await Assert.ThrowsAsync<OriSocketsRedisException>(async () => await a.Emitter.PublishAsync("stall", Notes.Push($"stalled-{i}"))));
            }

            Assert.All(failures, f => Assert.False(f.MayHaveReachedOtherInstances, f.Message));

            // Redis resumes and runs the stalled publishes: the other instance drops every one of them.
            await Eventually.TrueAsync(() => b.Counters.ExpiredCount >= 5, TimeSpan.FromSeconds(15));
            await a.Emitter.PublishAsync("stall", Notes.Push("after"));
            Assert.Equal("after", await Notes.TextAsync(onB));
            await onB.AssertSilentAsync(TimeSpan.FromMilliseconds(500));
        }
    }

    [Fact]
    public async Task A_join_while_redis_is_stalled_is_answered_within_the_operation_timeout_and_the_heartbeat_meanwhile()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var a = await Instance.StartAsync(redis.Endpoint, _prefix, o => o.OperationTimeout = TimeSpan.FromMilliseconds(500));
        await using var b = await Instance.StartAsync(redis.Endpoint, _prefix, o => o.OperationTimeout = TimeSpan.FromMilliseconds(500));
        var (onB, _) = await b.ConnectAsync();
        await using (onB)
        {
            await RespClient.CommandAsync(redis.Endpoint, "CLIENT", "PAUSE", "3000", "ALL");
            var started = DateTime.UtcNow;
            await onB.SendJsonAsync(new { type = "room.join", correlationId = "j", data = new { room = "paused" } });
            await onB.SendAsync("2");
            Assert.Equal("3", await onB.ReceiveAsync(TimeSpan.FromSeconds(1)));

            // Answered after the operation time-out, not after the stall: joined here, subscribed on Redis when it resumes.
            var reply = await onB.ReceiveJsonAsync(TimeSpan.FromSeconds(2));
            var waited = DateTime.UtcNow - started;
            Assert.True(reply.GetProperty("data").GetProperty("joined").GetBoolean(), reply.ToString());
            Assert.True(waited < TimeSpan.FromSeconds(2.5), $"the join took {waited.TotalMilliseconds:F0} ms");

            // When Redis resumes, the subscription is made: delivery from the other instance starts.
            string? received = null;
            var resumedAt = DateTime.UtcNow;
            for (var probe = 0; received is null && DateTime.UtcNow - resumedAt < TimeSpan.FromSeconds(15); probe++)
            {
                try
                {
                    await a.Emitter.PublishAsync("paused", Notes.Push($"resumed-{probe}"));
                    received = (await onB.ReceiveJsonAsync(TimeSpan.FromMilliseconds(300))).GetProperty("data").GetProperty("text").GetString();
                }
                catch (Exception ex) when (ex is OriSocketsRedisException or OperationCanceledException)
                {
                }
            }

            Assert.StartsWith("resumed-", received, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Publishes_made_while_redis_is_down_wait_for_it_and_arrive_once_in_order_when_it_is_back()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var a = await Instance.StartAsync(redis.Endpoint, _prefix);
        await using var b = await Instance.StartAsync(redis.Endpoint, _prefix);
        var (onB, _) = await b.JoinAsync("outage");
        await using (onB)
        {
            await a.Emitter.PublishAsync("outage", Notes.Push("before"));
            Assert.Equal("before", await Notes.TextAsync(onB));

            // Redis crashes (SIGKILL) mid-stream; publishes go on for a second and a half, then Redis is back.
            await redis.StopAsync();
            await Eventually.TrueAsync(() => !a.Provider.Bus.IsConnected);
            var publishes = new List<Task>();
            for (var i = 0; i < 50; i++)
            {
                publishes.Add(a.Emitter.PublishAsync("outage", Notes.Push($"m{i}")).AsTask());
                await Task.Delay(30, TestContext.Current.CancellationToken);
            }

            Assert.All(publishes, p => Assert.False(p.IsCompleted, "a publish was answered while Redis was down"));
            await redis.StartAgainAsync();
            await Task.WhenAll(publishes);

            // Every one arrives at the other instance once, in the order it was published, and nothing more.
            var received = new List<string>();
            for (var i = 0; i < 50; i++)
            {
                received.Add(await Notes.TextAsync(onB));
            }

            Assert.Equal(Enumerable.Range(0, 50).Select(i => $"m{i}"), received);
            await onB.AssertSilentAsync(TimeSpan.FromMilliseconds(500));
            Assert.True(a.Counters.BackloggedCount >= 50);
            Assert.Contains(a.Logs.Entries, e => e.EventId == 107);
            Assert.Contains(a.Logs.Entries, e => e.EventId == 108);
        }
    }

    [Fact]
    public async Task Publishes_after_a_restart_wait_for_an_instance_that_comes_back_later_than_the_grace()
    {
        // B reaches Redis through a proxy that keeps it away for two seconds after Redis is back: longer than the 1 s
        // grace. A counted two listeners before the outage, so its publishes wait for B's subscriptions.
        await using var redis = await RedisServer.StartAsync();
        await using var proxy = new FreezingProxy(redis.Endpoint);
        await using var a = await Instance.StartAsync(redis.Endpoint, _prefix, o =>
        {
            o.OperationTimeout = TimeSpan.FromSeconds(10);
            o.LivenessInterval = TimeSpan.FromMilliseconds(300);
        });
        await using var b = await Instance.StartAsync(proxy.Endpoint, _prefix);
        var (onB, _) = await b.JoinAsync("late");
        await using (onB)
        {
            await Eventually.TrueAsync(() => a.Provider.Bus.Listeners == 2);
            await redis.StopAsync();
            proxy.Refusing = true;
            await Eventually.TrueAsync(() => !a.Provider.Bus.IsConnected && !b.Provider.Bus.IsConnected);
            var publishes = Enumerable.Range(0, 10).Select(i => a.Emitter.PublishAsync("late", Notes.Push($"m{i}")).AsTask()).ToList();

            await redis.StartAgainAsync();
            await Eventually.TrueAsync(() => a.Provider.Bus.IsConnected);
            await Task.Delay(TimeSpan.FromSeconds(2), TestContext.Current.CancellationToken);
            Assert.All(publishes, p => Assert.False(p.IsCompleted, "a publish went out before the other instance was back"));
            proxy.Refusing = false;
            await Task.WhenAll(publishes);

            var received = new List<string>();
            for (var i = 0; i < 10; i++)
            {
                received.Add(await Notes.TextAsync(onB));
            }

            Assert.Equal(Enumerable.Range(0, 10).Select(i => $"m{i}"), received);
            Assert.DoesNotContain(a.Logs.Entries, e => e.EventId == 114);
        }
    }

    [Fact]
    public async Task An_instance_that_starts_is_counted_by_the_others_at_once_not_at_their_next_liveness_check()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var a = await Instance.StartAsync(redis.Endpoint, _prefix, o => o.LivenessInterval = TimeSpan.FromMinutes(5));
        await Eventually.TrueAsync(() => a.Provider.Bus.Listeners == 1);
        await using var b = await Instance.StartAsync(redis.Endpoint, _prefix, o => o.LivenessInterval = TimeSpan.FromMinutes(5));

        // B probes once it listens; A hears an origin it did not know and counts again.
        await Eventually.TrueAsync(() => a.Provider.Bus.Listeners == 2 && b.Provider.Bus.Listeners == 2, TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task Publishes_after_a_restart_wait_for_an_instance_that_is_gone_only_half_the_operation_timeout()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var a = await Instance.StartAsync(redis.Endpoint, _prefix, o =>
        {
            o.OperationTimeout = TimeSpan.FromSeconds(4);
            o.LivenessInterval = TimeSpan.FromMilliseconds(300);
        });
        var b = await Instance.StartAsync(redis.Endpoint, _prefix, o => o.OperationTimeout = TimeSpan.FromSeconds(1));
        await Eventually.TrueAsync(() => a.Provider.Bus.Listeners == 2);

        // B stops while Redis is down: A waits for it after the restart, two seconds at most, then publishes.
        await redis.StopAsync();
        await Eventually.TrueAsync(() => !a.Provider.Bus.IsConnected);
        await b.DisposeAsync();
        await redis.StartAgainAsync();

        var (onA, _) = await a.JoinAsync("gone");
        await using (onA)
        {
            await a.Emitter.PublishAsync("gone", Notes.Push("after"));
            Assert.Equal("after", await Notes.TextAsync(onA));
        }

        Assert.Contains(a.Logs.Entries, e => e.EventId == 114);
        await Eventually.TrueAsync(() => a.Provider.Bus.Listeners == 1);
    }

    [Fact]
    public async Task Publishes_past_the_backlog_limit_fail_at_once_and_the_others_past_the_operation_timeout()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var a = await Instance.StartAsync(redis.Endpoint, _prefix, o =>
        {
            o.BacklogLimit = 3;
            o.OperationTimeout = TimeSpan.FromMilliseconds(800);
        });
        await redis.StopAsync();
        await Eventually.TrueAsync(() => !a.Provider.Bus.IsConnected);

        var held = Enumerable.Range(0, 3).Select(i => a.Emitter.PublishAsync("full", Notes.Push($"h{i}")).AsTask()).ToList();
        var refused = await Assert.ThrowsAsync<OriSocketsRedisException>(async () => await a.Emitter.PublishAsync("full", Notes.Push("x")));
        Assert.Contains("3 messages already wait", refused.Message, StringComparison.Ordinal);
        foreach (var publish in held)
        {
            var failed = await Assert.ThrowsAsync<OriSocketsRedisException>(() => publish);
            Assert.False(failed.MayHaveReachedOtherInstances);
        }
    }

    [Fact]
    public async Task A_subscription_connection_that_goes_deaf_is_found_by_the_liveness_probe_and_made_again()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var proxy = new FreezingProxy(redis.Endpoint);
        await using var a = await Instance.StartAsync(redis.Endpoint, _prefix);
        await using var b = await Instance.StartAsync(proxy.Endpoint, _prefix, o =>
        {
            o.LivenessInterval = TimeSpan.FromMilliseconds(500);
            o.OperationTimeout = TimeSpan.FromMilliseconds(500);
        });
        var (onB, _) = await b.JoinAsync("deaf");
        await using (onB)
        {
            await a.Emitter.PublishAsync("deaf", Notes.Push("before"));
            Assert.Equal("before", await Notes.TextAsync(onB));

            // B's subscription connection stays open, its commands still reach Redis, but it hears nothing any more.
            Assert.True(proxy.FreezeSubscribers() > 0);
            var frozenAt = DateTime.UtcNow;
            await a.Emitter.PublishAsync("deaf", Notes.Push("lost"));

            // The probe finds it deaf, the connection is made again, and delivery resumes.
            string? received = null;
            for (var probe = 0; received is null && DateTime.UtcNow - frozenAt < TimeSpan.FromSeconds(15); probe++)
            {
                await a.Emitter.PublishAsync("deaf", Notes.Push($"after-{probe}"));
                try
                {
                    received = await Notes.TextAsync(onB, TimeSpan.FromMilliseconds(300));
                }
                catch (OperationCanceledException)
                {
                }
            }

            TestContext.Current.TestOutputHelper?.WriteLine($"delivery resumed {(DateTime.UtcNow - frozenAt).TotalMilliseconds:F0} ms after the subscription connection went deaf");
            Assert.StartsWith("after-", received, StringComparison.Ordinal);
            Assert.Contains(b.Logs.Entries, e => e.EventId == 110);
        }
    }

    [Fact]
    public async Task Publishes_across_killed_connections_are_delivered_when_accepted_and_never_when_reported_not_to_reach()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var a = await Instance.StartAsync(redis.Endpoint, _prefix);
        await using var b = await Instance.StartAsync(redis.Endpoint, _prefix);
        var (onB, _) = await b.JoinAsync("kill");
        await using (onB)
        {
            var accepted = new List<string>();
            var notReached = new List<string>();
            var uncertain = new List<string>();
            var publishing = Task.Run(async () =>
            {
                for (var i = 0; i < 400; i++)
                {
                    var text = $"m{i}";
                    try
                    {
                        await a.Emitter.PublishAsync("kill", Notes.Push(text));
                        accepted.Add(text);
                    }
                    catch (OriSocketsRedisException ex)
                    {
                        (ex.MayHaveReachedOtherInstances ? uncertain : notReached).Add(text);
                    }

                    await Task.Delay(2);
                }
            });

            // Every command connection (both instances') is cut, three times, while the publishes go on; the
            // subscription connections stay, so that what Redis takes is delivered.
            for (var kill = 0; kill < 3; kill++)
            {
                await Task.Delay(150, TestContext.Current.CancellationToken);
                await RespClient.CommandAsync(redis.Endpoint, "CLIENT", "KILL", "TYPE", "normal");
            }

            await publishing;
            var received = new HashSet<string>();
            while (received.Count < accepted.Count + notReached.Count + uncertain.Count)
            {
                string? text;
                try
                {
                    text = await onB.ReceiveAsync(TimeSpan.FromSeconds(2));
                }
                catch (OperationCanceledException)
                {
                    // Two seconds without a message: everything that will come has come.
                    break;
                }

                if (text is null)
                {
                    break;
                }

                received.Add(JsonDocument.Parse(text).RootElement.GetProperty("data").GetProperty("text").GetString()!);
            }

            TestContext.Current.TestOutputHelper?.WriteLine($"accepted {accepted.Count}, not reached {notReached.Count}, uncertain {uncertain.Count}, received {received.Count}");
            var lost = accepted.Where(t => !received.Contains(t)).ToList();
            var leaked = notReached.Where(received.Contains).ToList();
            Assert.True(lost.Count == 0, "Accepted but never delivered: " + string.Join(", ", lost));
            Assert.True(leaked.Count == 0, "Reported as reaching no other instance, yet delivered: " + string.Join(", ", leaked));
            Assert.True(accepted.Count > 0);
        }
    }
}
