using System.Linq;
using System.Runtime.CompilerServices;
using Microsoft.CodeAnalysis;

namespace Ori.Sockets.Generators.Parsing;

/// <summary>Well-known symbols, resolved once per compilation (cached weakly on it).</summary>
internal sealed class KnownTypes
{
    private static readonly ConditionalWeakTable<Compilation, KnownTypes> s_cache = new();

    private KnownTypes(Compilation compilation)
    {
        SocketMessageAttribute = compilation.GetTypeByMetadataName(MetadataNames.SocketMessageAttribute);
        ISocketMessage = compilation.GetTypeByMetadataName(MetadataNames.ISocketMessage);
        ISocketRequest = compilation.GetTypeByMetadataName(MetadataNames.ISocketRequest);
        SocketContext = compilation.GetTypeByMetadataName(MetadataNames.SocketContext);
        SocketContextOfT = compilation.GetTypeByMetadataName(MetadataNames.SocketContextOfT);
        IConnectionGuard = compilation.GetTypeByMetadataName(MetadataNames.IConnectionGuard);
        ConnectionGuardOfT = compilation.GetTypeByMetadataName(MetadataNames.ConnectionGuardOfT);
        IMessageGuard = compilation.GetTypeByMetadataName(MetadataNames.IMessageGuard);
        ConnectionGuardAttribute = compilation.GetTypeByMetadataName(MetadataNames.ConnectionGuardAttribute);
        SocketEndpointAttribute = compilation.GetTypeByMetadataName(MetadataNames.SocketEndpointAttribute);
        SocketRouteAttribute = compilation.GetTypeByMetadataName(MetadataNames.SocketRouteAttribute);
        RateLimitAttribute = compilation.GetTypeByMetadataName(MetadataNames.RateLimitAttribute);
        RecoverableTopicAttribute = compilation.GetTypeByMetadataName(MetadataNames.RecoverableTopicAttribute);
        AuthorizeAttribute = compilation.GetTypeByMetadataName(MetadataNames.AuthorizeAttribute);
        AllowAnonymousAttribute = compilation.GetTypeByMetadataName(MetadataNames.AllowAnonymousAttribute);
        MessageGuardAttribute = compilation.GetTypeByMetadataName(MetadataNames.MessageGuardAttribute);
        JsonPropertyName = compilation.GetTypeByMetadataName(MetadataNames.JsonPropertyNameAttribute);
        JsonIgnore = compilation.GetTypeByMetadataName(MetadataNames.JsonIgnoreAttribute);
        JsonStringEnumMemberName = compilation.GetTypeByMetadataName(MetadataNames.JsonStringEnumMemberNameAttribute);
        Required = DataAnnotation(compilation, "Required");
        StringLength = DataAnnotation(compilation, "StringLength");
        MinLength = DataAnnotation(compilation, "MinLength");
        MaxLength = DataAnnotation(compilation, "MaxLength");
        Range = DataAnnotation(compilation, "Range");
        AllowedValues = DataAnnotation(compilation, "AllowedValues");
        RegularExpression = DataAnnotation(compilation, "RegularExpression");
        CancellationToken = compilation.GetTypeByMetadataName("System.Threading.CancellationToken");
        Task = compilation.GetTypeByMetadataName("System.Threading.Tasks.Task");
        TaskOfT = compilation.GetTypeByMetadataName("System.Threading.Tasks.Task`1");
        ValueTask = compilation.GetTypeByMetadataName("System.Threading.Tasks.ValueTask");
        ValueTaskOfT = compilation.GetTypeByMetadataName("System.Threading.Tasks.ValueTask`1");
        List = compilation.GetTypeByMetadataName("System.Collections.Generic.List`1");
        Dictionary = compilation.GetTypeByMetadataName("System.Collections.Generic.Dictionary`2");
        IDictionary = compilation.GetTypeByMetadataName("System.Collections.Generic.IDictionary`2");
        IReadOnlyDictionary = compilation.GetTypeByMetadataName("System.Collections.Generic.IReadOnlyDictionary`2");
        ListInterfaces =
        [
            compilation.GetTypeByMetadataName("System.Collections.Generic.IList`1"),
            compilation.GetTypeByMetadataName("System.Collections.Generic.ICollection`1"),
            compilation.GetTypeByMetadataName("System.Collections.Generic.IEnumerable`1"),
            compilation.GetTypeByMetadataName("System.Collections.Generic.IReadOnlyList`1"),
            compilation.GetTypeByMetadataName("System.Collections.Generic.IReadOnlyCollection`1"),
        ];
        Named = new (INamedTypeSymbol?, string)[]
        {
            (compilation.GetTypeByMetadataName("System.Guid"), "Guid"),
            (compilation.GetTypeByMetadataName("System.DateTimeOffset"), "DateTimeOffset"),
            (compilation.GetTypeByMetadataName("System.TimeSpan"), "TimeSpan"),
            (compilation.GetTypeByMetadataName("System.DateOnly"), "DateOnly"),
            (compilation.GetTypeByMetadataName("System.TimeOnly"), "TimeOnly"),
        };
    }

    public INamedTypeSymbol? SocketMessageAttribute { get; }

    public INamedTypeSymbol? ISocketMessage { get; }

    public INamedTypeSymbol? ISocketRequest { get; }

    public INamedTypeSymbol? SocketContext { get; }

    public INamedTypeSymbol? SocketContextOfT { get; }

    public INamedTypeSymbol? IConnectionGuard { get; }

    public INamedTypeSymbol? ConnectionGuardOfT { get; }

    public INamedTypeSymbol? IMessageGuard { get; }

    public INamedTypeSymbol? ConnectionGuardAttribute { get; }

    public INamedTypeSymbol? MessageGuardAttribute { get; }

    public INamedTypeSymbol? SocketEndpointAttribute { get; }

    public INamedTypeSymbol? SocketRouteAttribute { get; }

    public INamedTypeSymbol? RateLimitAttribute { get; }

    public INamedTypeSymbol? RecoverableTopicAttribute { get; }

    public INamedTypeSymbol? AuthorizeAttribute { get; }

    public INamedTypeSymbol? AllowAnonymousAttribute { get; }

    public INamedTypeSymbol? JsonPropertyName { get; }

    public INamedTypeSymbol? JsonIgnore { get; }

    public INamedTypeSymbol? JsonStringEnumMemberName { get; }

    public INamedTypeSymbol? Required { get; }

    public INamedTypeSymbol? StringLength { get; }

    public INamedTypeSymbol? MinLength { get; }

    public INamedTypeSymbol? MaxLength { get; }

    public INamedTypeSymbol? Range { get; }

    public INamedTypeSymbol? AllowedValues { get; }

    public INamedTypeSymbol? RegularExpression { get; }

    public INamedTypeSymbol? CancellationToken { get; }

    public INamedTypeSymbol? Task { get; }

    public INamedTypeSymbol? TaskOfT { get; }

    public INamedTypeSymbol? ValueTask { get; }

    public INamedTypeSymbol? ValueTaskOfT { get; }

    public INamedTypeSymbol? List { get; }

    public INamedTypeSymbol? Dictionary { get; }

    public INamedTypeSymbol? IDictionary { get; }

    public INamedTypeSymbol? IReadOnlyDictionary { get; }

    public INamedTypeSymbol?[] ListInterfaces { get; }

    public (INamedTypeSymbol? Symbol, string Name)[] Named { get; }

    /// <summary>The attribute of <paramref name="symbol"/> whose class is <paramref name="attribute"/> (matched by symbol), or null.</summary>
    public static AttributeData? Find(ISymbol symbol, INamedTypeSymbol? attribute) =>
        attribute is null ? null : symbol.GetAttributes().FirstOrDefault(a => SymbolEqualityComparer.Default.Equals(a.AttributeClass, attribute));

    private static INamedTypeSymbol? DataAnnotation(Compilation compilation, string name) =>
        compilation.GetTypeByMetadataName(MetadataNames.DataAnnotations + name + "Attribute");

    public static KnownTypes For(Compilation compilation) => s_cache.GetValue(compilation, static c => new KnownTypes(c));
}
