using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Ori.Sockets.Redis;

/// <summary>Adds the Redis provider to Ori.Sockets, and the standalone emitter to other processes.</summary>
public static class OriSocketsRedisExtensions
{
    /// <summary>
    /// Runs this application's sockets on Redis: publishes, broadcasts and direct sends reach sockets on
    /// every instance with the same channel prefix. Options come from <c>Ori:Sockets:Redis</c>, then
    /// <paramref name="configure"/>. Application code does not change.
    /// </summary>
    /// <param name="builder">The Ori.Sockets builder.</param>
    /// <param name="configure">Sets the options (connection string, channel prefix, time limits).</param>
    /// <returns>The builder.</returns>
    public static OriSocketsBuilder AddRedis(this OriSocketsBuilder builder, Action<OriSocketsRedisOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        AddOptions(builder.Services, configure);
        builder.Services.TryAddSingleton<RedisCounters>();
        builder.Services.TryAddSingleton(sp => new RedisSocketProvider(
            sp.GetRequiredService<SocketHub>(),
            sp.GetRequiredService<IOptions<OriSocketsRedisOptions>>(),
            sp.GetRequiredService<ILoggerFactory>(),
            sp.GetRequiredService<RedisCounters>(),
            sp.GetService<TimeProvider>() ?? TimeProvider.System,
            sp.GetService<RedisMultiplexerSource>(),
            sp.GetService<Ori.Sockets.PubSub.TopicHistories>()));
        builder.Services.Replace(ServiceDescriptor.Singleton<ISocketProvider>(sp => sp.GetRequiredService<RedisSocketProvider>()));
        return builder;
    }

    /// <summary>Runs this application's sockets on the Redis at <paramref name="connectionString"/>.</summary>
    /// <param name="builder">The Ori.Sockets builder.</param>
    /// <param name="connectionString">A StackExchange.Redis connection string.</param>
    /// <param name="configure">Sets the other options.</param>
    /// <returns>The builder.</returns>
    public static OriSocketsBuilder AddRedis(this OriSocketsBuilder builder, string connectionString, Action<OriSocketsRedisOptions>? configure = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(connectionString);
        return builder.AddRedis(o =>
        {
            o.ConnectionString = connectionString;
            configure?.Invoke(o);
        });
    }

    /// <summary>Runs this application's sockets on Redis through a multiplexer the application owns.</summary>
    /// <param name="builder">The Ori.Sockets builder.</param>
    /// <param name="multiplexer">The multiplexer (not disposed by Ori.Sockets).</param>
    /// <param name="configure">Sets the other options.</param>
    /// <returns>The builder.</returns>
    public static OriSocketsBuilder AddRedis(this OriSocketsBuilder builder, IConnectionMultiplexer multiplexer, Action<OriSocketsRedisOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(multiplexer);
        builder.Services.AddSingleton(new RedisMultiplexerSource(multiplexer));
        return builder.AddRedis(configure);
    }

    /// <summary>
    /// Adds a <see cref="RedisSocketEmitter"/> as <see cref="ISocketEmitter"/> to a process without
    /// WebSockets (a worker): it reaches the sockets of the application with the same channel prefix. Recoverable
    /// topics of <see cref="OriSocketsOptions.RecoverableTopics"/> in <paramref name="services"/> are declared to it;
    /// others with <see cref="RedisSocketEmitter.AddRecoverableTopics"/>.
    /// </summary>
    /// <param name="services">The process's services.</param>
    /// <param name="configure">Sets the options (connection string, channel prefix).</param>
    /// <returns>The services.</returns>
    public static IServiceCollection AddOriSocketsRedisEmitter(this IServiceCollection services, Action<OriSocketsRedisOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        AddOptions(services, configure);
        services.TryAddSingleton(sp =>
        {
            var emitter = new RedisSocketEmitter(sp.GetRequiredService<IOptions<OriSocketsRedisOptions>>().Value, sp.GetService<ILogger<RedisSocketEmitter>>());

            // A process that declared recoverable topics (AddOriSockets().AddRecoverableTopics) publishes them with positions.
            foreach (var topic in sp.GetService<IOptions<OriSocketsOptions>>()?.Value.RecoverableTopics ?? [])
            {
                emitter.AddRecoverableTopics(topic.Pattern, topic.MaxMessages, topic.MaxAge);
            }

            return emitter;
        });
        services.TryAddSingleton<ISocketEmitter>(sp => sp.GetRequiredService<RedisSocketEmitter>());
        return services;
    }

    private static void AddOptions(IServiceCollection services, Action<OriSocketsRedisOptions>? configure)
    {
        var options = services.AddOptions<OriSocketsRedisOptions>().BindConfiguration(OriSocketsRedisOptions.SectionName);
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<OriSocketsRedisOptions>, OriSocketsRedisOptionsValidator>());
    }
}

/// <summary>Checks the Redis options when the application starts.</summary>
internal sealed class OriSocketsRedisOptionsValidator(IServiceProvider services) : IValidateOptions<OriSocketsRedisOptions>
{
    public ValidateOptionsResult Validate(string? name, OriSocketsRedisOptions options)
    {
        var problem = Problem(options, services.GetService<RedisMultiplexerSource>() is not null);
        return problem is null ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problem);
    }

    public static string? Problem(OriSocketsRedisOptions options, bool hasMultiplexer)
    {
        var prefix = options.ChannelPrefix;
        if (string.IsNullOrEmpty(prefix) || prefix.Length > 64 || prefix.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '-')))
        {
            return $"Ori:Sockets:Redis:ChannelPrefix must be 1 to 64 characters of A-Z a-z 0-9 _ . - (got '{prefix}').";
        }

        if (!hasMultiplexer && string.IsNullOrWhiteSpace(options.ConnectionString))
        {
            return "Ori:Sockets:Redis:ConnectionString is required (or give AddRedis an IConnectionMultiplexer).";
        }

        if (options.ConnectTimeout <= TimeSpan.Zero || options.OperationTimeout <= TimeSpan.Zero || options.RetryInterval <= TimeSpan.Zero || options.PresenceHeartbeat <= TimeSpan.Zero)
        {
            return "Ori:Sockets:Redis time limits must be positive.";
        }

        if (options.LivenessInterval < TimeSpan.Zero)
        {
            return "Ori:Sockets:Redis:LivenessInterval must not be negative (00:00:00 turns the check off).";
        }

        if (options.BacklogLimit < 0)
        {
            return "Ori:Sockets:Redis:BacklogLimit must not be negative (0: no publish waits for Redis to come back).";
        }

        return null;
    }
}
