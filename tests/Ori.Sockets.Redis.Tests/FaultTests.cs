using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Ori.Sockets.Redis.Tests.Infrastructure;
using Ori.Sockets.Tests.Infrastructure;

namespace Ori.Sockets.Redis.Tests;

/// <summary>Redis going away and coming back, with a private redis-server each test can stop and start.</summary>
public sealed class FaultTests
{
    private readonly string _prefix = "f" + Guid.NewGuid().ToString("N")[..10];

    [Fact]
    public async Task Redis_restarted_on_the_same_port_gets_every_topic_back_and_delivery_resumes()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var a = await Instance.StartAsync(redis.Endpoint, _prefix);
        await using var b = await Instance.StartAsync(redis.Endpoint, _prefix);

        // The meter Ori.Sockets.Redis of each instance: B's lag, A's reconnects and backlog.
        var lags = new ConcurrentQueue<double>();
        var observed = new ConcurrentDictionary<string, long>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter == a.Counters.Meter || instrument.Meter == b.Counters.Meter)
            {
                l.EnableMeasurementEvents(instrument, instrument.Meter == a.Counters.Meter ? "a" : "b");
            }
        };
        listener.SetMeasurementEventCallback<double>((instrument, value, _, state) =>
        {
            if (instrument.Name == "ori.sockets.redis.lag" && (string)state! == "b")
            {
                lags.Enqueue(value);
            }
        });
        listener.SetMeasurementEventCallback<long>((instrument, value, _, state) => observed[(string)state! + ":" + instrument.Name] = value);
        listener.SetMeasurementEventCallback<int>((instrument, value, _, state) => observed[(string)state! + ":" + instrument.Name] = value);
        listener.Start();

        var (onA, _) = await a.JoinAsync("live");
        var (onB, _) = await b.JoinAsync("live");
        var (onB2, _) = await b.JoinAsync("other");
        await using (onA)
        await using (onB)
        await using (onB2)
        {
            await a.Emitter.PublishAsync("live", Notes.Push("before"));
            Assert.Equal("before", await Notes.TextAsync(onA));
            Assert.Equal("before", await Notes.TextAsync(onB));
            Assert.NotEmpty(lags);
            Assert.All(lags, lag => Assert.InRange(lag, 0, 5));

            await redis.StopAsync();
            await Eventually.TrueAsync(() => !a.Provider.Bus.IsConnected);

            // During the outage a publish fails for its caller, and local subscribers still get their copy.
            await Assert.ThrowsAsync<OriSocketsRedisException>(async () => await a.Emitter.PublishAsync("live", Notes.Push("during")));
            Assert.Equal("during", await Notes.TextAsync(onA));
            Assert.True(a.Counters.PublishFailedCount >= 1);

            await redis.StartAgainAsync();
            var restarted = Stopwatch.StartNew();

            // Every topic with local subscribers is subscribed again, without a restart of the application.
            await Eventually.TrueAsync(() => RespClient.NumSubAsync(redis.Endpoint, $"{_prefix}:live").GetAwaiter().GetResult() == 2, TimeSpan.FromSeconds(30));
            await Eventually.TrueAsync(() => RespClient.NumSubAsync(redis.Endpoint, $"{_prefix}:other").GetAwaiter().GetResult() == 1, TimeSpan.FromSeconds(30));

            // Delivery resumes: probe until B's socket gets one (the first probes may still fail).
            string? received = null;
            for (var probe = 0; received is null && restarted.Elapsed < TimeSpan.FromSeconds(30); probe++)
            {
                try
                {
                    await a.Emitter.PublishAsync("live", Notes.Push($"after-{probe}"));
                    received = await Notes.TextAsync(onB, TimeSpan.FromMilliseconds(200));
                }
                catch (Exception ex) when (ex is OriSocketsRedisException or OperationCanceledException)
                {
                }
            }

            Assert.NotNull(received);
            Assert.StartsWith("after-", received, StringComparison.Ordinal);
            listener.RecordObservableInstruments();
            Assert.True(observed["a:ori.sockets.redis.reconnects"] >= 1, "a reconnect was counted");
            Assert.Equal(0, observed["a:ori.sockets.redis.backlog"]);
            Assert.InRange(observed["a:ori.sockets.redis.instances"], 1, 2); // B is counted once a count follows its return
            Assert.True(observed["a:ori.sockets.redis.publish_failed"] >= 1);
            TestContext.Current.TestOutputHelper?.WriteLine($"delivery resumed {restarted.Elapsed.TotalMilliseconds:F0} ms after redis-server started again");
            Assert.Contains(a.Logs.Entries, e => e.EventId == 103);
        }
    }

    [Fact]
    public async Task An_application_starts_without_redis_and_recovers_when_it_appears()
    {
        await using var redis = await RedisServer.StartAsync();
        await redis.StopAsync();

        await using var a = await Instance.StartAsync(redis.Endpoint, _prefix);
        Assert.Contains(a.Logs.Entries, e => e.EventId == 102);
        var (onA, _) = await a.JoinAsync("later");
        await using (onA)
        {
            // Local delivery works meanwhile; the publish tells its caller that Redis did not take it.
            await Assert.ThrowsAsync<OriSocketsRedisException>(async () => await a.Emitter.PublishAsync("later", Notes.Push("local")));
            Assert.Equal("local", await Notes.TextAsync(onA));

            await redis.StartAgainAsync();
            await Eventually.TrueAsync(() => RespClient.NumSubAsync(redis.Endpoint, $"{_prefix}:later").GetAwaiter().GetResult() == 1, TimeSpan.FromSeconds(30));

            // A worker's publishes reach the socket once the subscription is live again (the first may still be missed:
            // pub/sub is at most once while a subscription is being made).
            await using var worker = new RedisSocketEmitter(new OriSocketsRedisOptions { ConnectionString = redis.Endpoint, ChannelPrefix = _prefix });
            string? received = null;
            for (var probe = 0; received is null && probe < 50; probe++)
            {
                await worker.PublishAsync("later", Notes.Push($"from-worker-{probe}"));
                try
                {
                    received = await Notes.TextAsync(onA, TimeSpan.FromMilliseconds(300));
                }
                catch (OperationCanceledException)
                {
                }
            }

            Assert.StartsWith("from-worker-", received, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Options_without_a_connection_string_or_with_a_bad_prefix_fail_at_start()
    {
        var missing = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => Instance.StartAsync(string.Empty, _prefix));
        Assert.Contains("ConnectionString", missing.Message, StringComparison.Ordinal);
        var prefix = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => Instance.StartAsync("127.0.0.1:1", "bad prefix*"));
        Assert.Contains("ChannelPrefix", prefix.Message, StringComparison.Ordinal);
    }
}

/// <summary>The standalone emitter: a worker without WebSockets reaching the application's sockets.</summary>
public sealed class EmitterTests
{
    private readonly string _prefix = "e" + Guid.NewGuid().ToString("N")[..10];

    [Fact]
    public async Task A_worker_publishes_sends_broadcasts_and_emits_typed_messages()
    {
        await using var a = await Instance.StartAsync(RedisServer.Shared, _prefix);
        await using var b = await Instance.StartAsync(RedisServer.Shared, _prefix);
        var (onA, idA) = await a.JoinAsync("jobs");
        var (onB, _) = await b.ConnectAsync();
        await using (onA)
        await using (onB)
        {
            await using var worker = new RedisSocketEmitter(new OriSocketsRedisOptions { ConnectionString = RedisServer.Shared, ChannelPrefix = _prefix });

            await worker.EmitAsync("jobs", new Note("job-done"));
            var push = await onA.ReceiveJsonAsync();
            Assert.Equal("note", push.GetProperty("name").GetString());
            Assert.Equal("job-done", push.GetProperty("data").GetProperty("text").GetString());

            await worker.EmitToSocketAsync(idA, new Note("just-you"));
            Assert.Equal("just-you", (await onA.ReceiveJsonAsync()).GetProperty("data").GetProperty("text").GetString());

            await worker.EmitToAllAsync(new Note("everyone"));
            Assert.Equal("everyone", (await onA.ReceiveJsonAsync()).GetProperty("data").GetProperty("text").GetString());
            Assert.Equal("everyone", (await onB.ReceiveJsonAsync()).GetProperty("data").GetProperty("text").GetString());
            await onB.AssertSilentAsync(TimeSpan.FromMilliseconds(200));
        }
    }

    [Fact]
    public async Task A_worker_registered_in_services_is_the_socket_emitter()
    {
        // As in a worker host: configuration and logging are there.
        var services = new ServiceCollection();
        services.AddSingleton<Microsoft.Extensions.Configuration.IConfiguration>(new Microsoft.Extensions.Configuration.ConfigurationBuilder().Build());
        services.AddLogging();
        services.AddOriSocketsRedisEmitter(o =>
        {
            o.ConnectionString = RedisServer.Shared;
            o.ChannelPrefix = _prefix;
        });
        await using var provider = Microsoft.Extensions.DependencyInjection.ServiceCollectionContainerBuilderExtensions.BuildServiceProvider(services);
        var emitter = Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<ISocketEmitter>(provider);
        Assert.IsType<RedisSocketEmitter>(emitter);

        await using var a = await Instance.StartAsync(RedisServer.Shared, _prefix);
        var (onA, _) = await a.JoinAsync("di");
        await using (onA)
        {
            await emitter.EmitAsync("di", new Note("via-di"));
            Assert.Equal("via-di", (await onA.ReceiveJsonAsync()).GetProperty("data").GetProperty("text").GetString());
        }
    }

    [Fact]
    public async Task A_worker_publish_without_redis_throws()
    {
        await using var redis = await RedisServer.StartAsync();
        await redis.StopAsync();
        await using var worker = new RedisSocketEmitter(new OriSocketsRedisOptions { ConnectionString = redis.Endpoint, ChannelPrefix = _prefix, ConnectTimeout = TimeSpan.FromMilliseconds(300) });
        await Assert.ThrowsAsync<OriSocketsRedisException>(async () => await worker.PublishAsync("x", SocketFrame.Text("{}")));
    }
}

/// <summary>Options from configuration, as an application sets them in appsettings.json or the environment.</summary>
public sealed class ConfigurationTests
{
    [Fact]
    public async Task Options_are_bound_from_Ori_Sockets_Redis()
    {
        var prefix = "c" + Guid.NewGuid().ToString("N")[..10];
        var builder = Microsoft.AspNetCore.Builder.WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrelCore().ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0));
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Ori:Sockets:Redis:ConnectionString"] = RedisServer.Shared,
            ["Ori:Sockets:Redis:ChannelPrefix"] = prefix,
            ["Ori:Sockets:Redis:OperationTimeout"] = "00:00:03",
        });
        builder.Services.AddOriSockets().AddRedis();
        await using var app = builder.Build();
        app.MapOriSockets("/ws");
        await app.StartAsync(TestContext.Current.CancellationToken);

        var options = app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<OriSocketsRedisOptions>>().Value;
        Assert.Equal(TimeSpan.FromSeconds(3), options.OperationTimeout);
        var provider = app.Services.GetRequiredService<RedisSocketProvider>();
        Assert.Same(provider, app.Services.GetRequiredService<ISocketProvider>());
        Assert.Equal(prefix + ":", provider.Bus.Prefix);
        await Eventually.TrueAsync(() => RespClient.NumSubAsync(RedisServer.Shared, $"{prefix}:#control").GetAwaiter().GetResult() == 1);

        // The application's emitter is the provider behind the runtime's time limit.
        var published = provider.Bus.Counters.PublishedCount;
        await app.Services.GetRequiredService<ISocketEmitter>().PublishAsync("bound", "x", cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(published + 1, provider.Bus.Counters.PublishedCount);
        await app.StopAsync(TestContext.Current.CancellationToken);
    }
}
